//! Cross-agency duplicate detection end to end: two agencies' stores, one agreement
//! key handed over as a code, indices exchanged as a file; what never leaks; hostile
//! input; and the match rates on test lists of names (quoted in
//! `docs/decisions/0007-blind-index.md`).

use std::path::Path;

use caravan_core::dedup::{
    BirthDate, BlindIndex, DedupKey, Identity, IndexList, MatchStrength, StretchCost,
};
use caravan_core::{Edit, Error, ScalarField, Store, StoreKey};

fn cheap(key: DedupKey) -> DedupKey {
    key.with_cost(StretchCost::MINIMAL).expect("cost")
}

fn identity(given: &str, family: &str, born: &str) -> Identity {
    Identity::new(given, family, BirthDate::parse(born).expect("date")).expect("identity")
}

fn index(key: &DedupKey, given: &str, family: &str, born: &str) -> BlindIndex {
    BlindIndex::compute(key, &identity(given, family, born)).expect("index")
}

/// One agency: a store, and a case per person indexed with the store's agreement key.
struct Agency {
    store: Store,
    _dir: tempfile::TempDir,
    store_key: StoreKey,
}

impl Agency {
    fn new() -> Agency {
        let dir = tempfile::tempdir().expect("tmp");
        let store_key = StoreKey::generate().expect("store key");
        let store = Store::create(dir.path().join("store"), &store_key).expect("store");
        Agency {
            store,
            _dir: dir,
            store_key,
        }
    }

    fn register(&mut self, id: Identity) -> caravan_core::CaseId {
        self.register_with(id, true)
    }

    fn register_with(&mut self, id: Identity, sharing: bool) -> caravan_core::CaseId {
        let case = self
            .store
            .add_case(&[
                Edit::set(ScalarField::Gender, "Feminine"),
                Edit::Consent {
                    share_with_partners: Some(sharing),
                    include_in_statistics: None,
                },
            ])
            .expect("case");
        let key = self
            .store
            .dedup()
            .dedup_key()
            .expect("key")
            .expect("has a key");
        let index = BlindIndex::compute(&key, &id).expect("index");
        drop(id);
        self.store
            .dedup_mut()
            .set_blind_index(&case, &index)
            .expect("set");
        case
    }
}

fn dir_bytes(dir: &Path) -> Vec<(String, Vec<u8>)> {
    std::fs::read_dir(dir)
        .expect("dir")
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).expect("file"),
            )
        })
        .collect()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

#[test]
fn two_agencies_match_transliterations_and_nothing_else() {
    let mut almaty = Agency::new();
    let mut bishkek = Agency::new();
    let key = cheap(DedupKey::generate().expect("key"));
    almaty.store.dedup_mut().set_dedup_key(&key).expect("set");
    // Handed over in person as a code; the fingerprints agree.
    let code = key.to_handover_code();
    let received = DedupKey::from_handover_code(&code).expect("code");
    bishkek
        .store
        .dedup_mut()
        .set_dedup_key(&received)
        .expect("set");
    assert_eq!(
        almaty
            .store
            .dedup()
            .dedup_key()
            .expect("k")
            .map(|k| k.fingerprint()),
        bishkek
            .store
            .dedup()
            .dedup_key()
            .expect("k")
            .map(|k| k.fingerprint())
    );

    let a_aigerim = almaty
        .register(identity("Aigerim", "KAIRATKYZY", "1999-03-14").with_place_of_birth("Shymkent"));
    let a_shokhrukh = almaty.register(identity("Shokhrukh", "Rakhmonov", "1995-07-20"));
    let a_hasan = almaty.register(identity("Hasan", "Karimov", "2004-06-01"));
    let a_bakyt = almaty
        .register(identity("Bakyt", "Asanov", "1980-01-02").with_patronymic("Kubanychbekovich"));
    // No consent to sharing: its index never leaves Almaty, so Bishkek cannot match it.
    let _a_private = almaty.register_with(identity("Dilnoza", "Yusupova", "1990-05-05"), false);

    let b_aigerim = bishkek.register(
        identity("Кайраткызы", "Айгерим", "14.03.1999").with_place_of_birth("г. Шымкент"),
    );
    let b_shokhrukh = bishkek.register(identity("Шохрух", "Рахмонзода", "20.07.1995"));
    let b_husan = bishkek.register(identity("Husan", "Karimov", "2004-06-01"));
    let b_bakyt =
        bishkek.register(identity("Бакыт", "Асанов", "1980").with_patronymic("Кубанычбек уулу"));
    let _b_other = bishkek.register(identity("Aigul", "Kairatkyzy", "1999-03-14"));
    let _b_private_match = bishkek.register(identity("Дилноза", "Юсупова", "05.05.1990"));

    let wire = almaty
        .store
        .dedup_mut()
        .export_blind_indices()
        .expect("export")
        .to_cbor()
        .expect("cbor");
    let received = IndexList::from_cbor(&wire).expect("decode");
    let found = bishkek
        .store
        .dedup_mut()
        .possible_duplicates(&received)
        .expect("check");
    let pairs: Vec<_> = found
        .iter()
        .map(|d| (d.ours, d.other, d.found.strength))
        .collect();
    assert_eq!(
        pairs,
        {
            let mut expected = vec![
                (b_aigerim, a_aigerim, MatchStrength::Strong),
                (b_shokhrukh, a_shokhrukh, MatchStrength::Probable),
                (b_bakyt, a_bakyt, MatchStrength::Probable),
            ];
            expected.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)).then(a.1.cmp(&b.1)));
            expected
        },
        "{found:#?}"
    );
    assert!(!pairs.iter().any(|p| p.0 == b_husan || p.1 == a_hasan));
    let aigerim = &found[0];
    assert!(aigerim
        .found
        .reason()
        .contains("same name and date of birth"));
    assert!(aigerim.to_string().starts_with("possible same person"));

    // The same people under another agreement's key: never a match.
    let mut osh = Agency::new();
    osh.store
        .dedup_mut()
        .set_dedup_key(&cheap(DedupKey::generate().expect("key")))
        .expect("set");
    osh.register(identity("Aigerim", "Kairatkyzy", "1999-03-14"));
    osh.register(identity("Shokhrukh", "Rakhmonov", "1995-07-20"));
    assert!(osh
        .store
        .dedup_mut()
        .possible_duplicates(&received)
        .expect("check")
        .is_empty());
    // Nor with the same key bytes at another stretch cost.
    let slower = DedupKey::from_bytes(key.expose_bytes())
        .and_then(|k| {
            k.with_cost(StretchCost {
                memory_kib: 16,
                iterations: 1,
            })
        })
        .expect("key");
    let b = index(&slower, "Aigerim", "Kairatkyzy", "1999-03-14");
    assert!(received
        .entries
        .iter()
        .all(|e| e.index.compare(&b).is_none()));
}

#[test]
fn identity_details_never_reach_the_disk_or_debug_output() {
    let mut agency = Agency::new();
    let key = cheap(DedupKey::generate().expect("key"));
    agency.store.dedup_mut().set_dedup_key(&key).expect("set");
    let planted = [
        "Zhazira",
        "Жазира",
        "Tolegenova",
        "Төлегенова",
        "Zhanaozen",
        "Жаңаөзен",
        "Serikovna",
        "1987-11-23",
        "23.11.1987",
    ];
    let person = identity("Жазира", "Төлегенова", "23.11.1987")
        .with_patronymic("Serikovna")
        .with_place_of_birth("Жаңаөзен");
    let debug = format!("{person:?}");
    let case = agency.register(person);
    agency.store.compact_now().expect("compact");
    let stored = agency
        .store
        .dedup_mut()
        .blind_index(&case)
        .expect("get")
        .expect("some");
    let record = agency.store.case(&case).expect("record");
    let debug = format!(
        "{debug} {stored:?} {key:?} {record:?} {:?} {:?}",
        Edit::SetBlindIndex {
            index: Some(stored.clone())
        },
        BirthDate::parse("23.11.1987").expect("d")
    );
    let list = agency
        .store
        .dedup_mut()
        .export_blind_indices()
        .expect("export")
        .to_cbor()
        .expect("cbor");
    let key_code = key.to_handover_code();
    let files = dir_bytes(agency.store.dir());
    assert!(files.iter().any(|(name, _)| name == "dedup-key"));
    for needle in planted {
        assert!(
            !contains(debug.as_bytes(), needle.as_bytes()),
            "debug: {needle}"
        );
        assert!(!contains(&list, needle.as_bytes()), "list: {needle}");
        for (name, bytes) in &files {
            assert!(!contains(bytes, needle.as_bytes()), "{name}: {needle}");
        }
    }
    // Nor the agreement key or the store key, in any file or in Debug.
    for secret in [
        key.expose_bytes().as_slice(),
        agency.store_key.expose_bytes().as_slice(),
    ] {
        for (name, bytes) in &files {
            assert!(!bytes.windows(32).any(|w| w == secret), "{name}");
        }
        assert!(!contains(&list, secret));
    }
    assert!(!debug.contains(&key_code[20..]));
    assert!(!debug.contains("tag"), "{debug}");

    // Error messages do not repeat what was typed.
    let long = "Жазира".repeat(40);
    for err in [
        Identity::new(&long, "Төлегенова", BirthDate::year(1987).expect("y"))
            .expect_err("too long"),
        BirthDate::parse("31.02.1987").expect_err("no such day"),
        DedupKey::from_handover_code("caravan-dedup-key:ZHAZIRA").expect_err("bad"),
    ] {
        let text = format!("{err} {err:?}");
        for needle in ["Жазира", "ZHAZIRA", "1987"] {
            assert!(!text.contains(needle), "{text}");
        }
    }
}

/// A tiny deterministic generator for mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[test]
fn hostile_cbor_gives_typed_errors() {
    let key = cheap(DedupKey::from_bytes(&[5; 32]).expect("key"));
    let one = index(&key, "Dilnoza", "Karimova", "2003-02-28");
    let list = IndexList::new(vec![caravan_core::dedup::IndexEntry {
        case: caravan_core::CaseId([1; 16]),
        index: one.clone(),
    }]);
    let good_index = one.to_cbor().expect("cbor");
    let good_list = list.to_cbor().expect("cbor");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..4000 {
        let base = if round % 2 == 0 {
            &good_index
        } else {
            &good_list
        };
        let mut bytes = base.clone();
        match rng.below(4) {
            0 => {
                let at = rng.below(bytes.len());
                bytes[at] ^= 1 << rng.below(8);
            }
            1 => bytes.truncate(rng.below(bytes.len())),
            2 => {
                let at = rng.below(bytes.len());
                bytes.insert(at, rng.next() as u8);
            }
            _ => {
                let at = rng.below(bytes.len());
                bytes[at] = rng.next() as u8;
            }
        }
        for result in [
            BlindIndex::from_cbor(&bytes).map(|_| ()),
            IndexList::from_cbor(&bytes).map(|_| ()),
        ] {
            if let Err(e) = result {
                assert!(matches!(e, Error::InvalidInput { .. }), "{e:?}");
            }
        }
    }
    // Deep nesting, huge declared lengths, wrong types, oversize input.
    let hostile: Vec<Vec<u8>> = vec![
        vec![0x81; 100_000],
        vec![
            0xa2, 0x61, b'v', 0x01, 0x61, b'e', 0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0xff,
        ],
        vec![
            0xa1, 0x61, b't', 0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        ],
        vec![0xf6],
        vec![],
        vec![0u8; 70 << 20],
    ];
    for bytes in &hostile {
        assert!(matches!(
            BlindIndex::from_cbor(bytes),
            Err(Error::InvalidInput { .. })
        ));
        assert!(matches!(
            IndexList::from_cbor(bytes),
            Err(Error::InvalidInput { .. })
        ));
    }
}

/// The same person written by different agencies (Cyrillic and Latin, passport,
/// national and informal spellings): given-name variants, family-name variants.
const SAME_PERSON: &[(&[&str], &[&str])] = &[
    (
        &["Aigerim", "Айгерим", "Aygerim"],
        &["Tursunova", "Турсунова"],
    ),
    (
        &["Zhanar", "Жанар", "Janar"],
        &["Kairatkyzy", "Қайратқызы", "Qairatqyzy"],
    ),
    (
        &["Yuliya", "Юлия", "Iuliia", "Yulia"],
        &["Yusupova", "Юсупова", "Iusupova"],
    ),
    (
        &["Khurshed", "Хуршед", "Hurshed", "Xurshed"],
        &["Rakhmonov", "Рахмонов", "Rahmonov", "Raxmonov"],
    ),
    (
        &["Shokhrukh", "Шохрух", "Shohruh", "Shoxrux"],
        &["Abdullaev", "Абдуллаев", "Abdullayev"],
    ),
    (&["Nurlan", "Нұрлан"], &["Sadykov", "Садыков", "Sadikov"]),
    (
        &["Zhyldyz", "Жылдыз", "Jyldyz"],
        &["Jeenbekova", "Жээнбекова", "Zheenbekova"],
    ),
    (
        &["Farrukh", "Фаррух", "Farruh", "Farrux"],
        &["Khodjaev", "Ходжаев", "Xo'jayev", "Khodzhaev"],
    ),
    (
        &["Jamshed", "Джамшед", "Dzhamshed", "Ҷамшед"],
        &["Mamatkulov", "Маматкулов", "Mamatqulov"],
    ),
    (
        &["Ulugbek", "Улугбек", "Ulug'bek", "Ulughbek"],
        &["Tokhtarov", "Тохтаров", "Toxtarov"],
    ),
    (
        &["Aliya", "Әлия", "Aliia"],
        &["Alieva", "Алиева", "Aliyeva"],
    ),
    (
        &["Yerzhan", "Ержан", "Erzhan", "Erjan"],
        &["Omirzakov", "Өмірзақов", "Omirzaqov"],
    ),
    (&["Oybek", "Ойбек", "Oibek"], &["Ergashev", "Эргашев"]),
    (
        &["Aizhan", "Айжан", "Aijan", "Ayzhan"],
        &["Zhunusova", "Жунусова", "Junusova"],
    ),
    (
        &["Ravshan", "Равшан", "Rawshan"],
        &["Berdimuhamedow", "Бердимухамедов"],
    ),
    (
        &["Kanat", "Қанат", "Qanat"],
        &["Zhangabylov", "Жаңабылов", "Janabylov"],
    ),
    (
        &["Asel", "Асель", "Assel"],
        &["Kurmanbekova", "Курманбекова", "Qurmanbekova"],
    ),
    (
        &["Bakhtiyor", "Бахтиёр", "Baxtiyor"],
        &["Yuldashev", "Юлдашев", "Iuldashev"],
    ),
    (&["Fyodor", "Фёдор", "Fedor"], &["Tsoy", "Цой", "Tsoi"]),
    (&["Sherzod", "Шерзод"], &["Nazarov", "Назаров"]),
];

/// Spelling (not transliteration) differences of one name: expected "probable".
const SPELLING_VARIANTS: &[(&str, &str)] = &[
    ("Gulnora", "Гульнара"),
    ("Temur", "Тимур"),
    ("Bobur", "Бабур"),
    ("Shakhrukh", "Шохрух"),
    ("Ilkhom", "Ilkham"),
    ("Bakhtiyor", "Бахтияр"),
    ("O‘tkir", "Уткир"),
    ("Dilshod", "Дилшад"),
];

/// Different names of different people (often twins or siblings: same family name,
/// same date of birth), which must not be flagged.
const DIFFERENT: &[(&str, &str)] = &[
    ("Hasan", "Husan"),
    ("Hasan", "Husen"),
    ("Asan", "Usen"),
    ("Marat", "Murat"),
    ("Aziz", "Aziza"),
    ("Nurlan", "Nurlana"),
    ("Ruslan", "Ruslana"),
    ("Farid", "Farida"),
    ("Umid", "Umida"),
    ("Said", "Saida"),
    ("Aigerim", "Aigul"),
    ("Dilnoza", "Dilfuza"),
    ("Saule", "Saltanat"),
    ("Timur", "Temirlan"),
    ("Alisher", "Alijon"),
    ("Akmal", "Akbar"),
    ("Kamila", "Kamola"),
    ("Zarina", "Zarema"),
    ("Azamat", "Azim"),
    ("Malika", "Malik"),
    ("Bahodir", "Bahrom"),
    ("Olim", "Olima"),
    ("Sabina", "Sabrina"),
    ("Anvar", "Anvarbek"),
    ("Aliya", "Alla"),
];

#[test]
fn match_rates_on_test_lists() {
    let key = cheap(DedupKey::from_bytes(&[6; 32]).expect("key"));
    let born = "1996-04-12";

    // Transliterations: every pair of spellings of one person, full date of birth.
    let (mut pairs, mut strong, mut missed) = (0, 0, Vec::new());
    for (givens, families) in SAME_PERSON {
        let mut spellings = Vec::new();
        for g in *givens {
            for f in *families {
                spellings.push((*g, *f, index(&key, g, f, born)));
            }
        }
        for i in 0..spellings.len() {
            for j in i + 1..spellings.len() {
                pairs += 1;
                match spellings[i].2.compare(&spellings[j].2).map(|m| m.strength) {
                    Some(MatchStrength::Strong) => strong += 1,
                    _ => missed.push(format!(
                        "{} {} / {} {}",
                        spellings[i].0, spellings[i].1, spellings[j].0, spellings[j].1
                    )),
                }
            }
        }
    }
    eprintln!("transliterations: {strong} of {pairs} pairs strong; missed: {missed:?}");
    assert!(missed.is_empty(), "{missed:?}");

    // Spelling variants: probable (same date of birth), never strong.
    let mut probable = 0;
    for (a, b) in SPELLING_VARIANTS {
        let m = index(&key, a, "Karimov", born).compare(&index(&key, b, "Каримов", born));
        if m.as_ref().map(|m| m.strength) == Some(MatchStrength::Probable) {
            probable += 1;
        } else {
            eprintln!("spelling variant not probable: {a} / {b}: {m:?}");
        }
    }
    eprintln!(
        "spelling variants: {probable} of {} probable",
        SPELLING_VARIANTS.len()
    );
    assert_eq!(probable, SPELLING_VARIANTS.len());

    // Different names, same family name and date of birth (the hardest case).
    let flagged: Vec<_> = DIFFERENT
        .iter()
        .filter(|(a, b)| {
            index(&key, a, "Karimov", born)
                .compare(&index(&key, b, "Karimov", born))
                .is_some()
        })
        .collect();
    eprintln!(
        "different names: {} of {} pairs flagged: {flagged:?}",
        flagged.len(),
        DIFFERENT.len()
    );
    // One known collision of the ICAO spelling rule (`-ia` for `-ия`): `Aliya` / `Alla`.
    assert_eq!(flagged, vec![&("Aliya", "Alla")]);

    // Different people with the same name: a different date never gives more than weak.
    let a = index(&key, "Aigerim", "Tursunova", "1996-04-12");
    for other in ["1996-04-13", "1996-12-04", "1997-04-12"] {
        let m = a.compare(&index(&key, "Aigerim", "Tursunova", other));
        assert!(
            m.is_none_or(|m| m.strength == MatchStrength::Weak),
            "{other}"
        );
    }
}

/// Combining two agencies' statistics counts a person registered by both once, when
/// both typed the details (in different alphabets) and the blind indices link them.
#[test]
fn combined_statistics_count_a_person_registered_by_two_agencies_once() {
    use caravan_core::export::{combine, Collected, DateWindow, Extract};
    use caravan_core::SetField;

    let key = cheap(DedupKey::generate().expect("key"));
    let mut agencies = [Agency::new(), Agency::new()];
    let add = |agency: &mut Agency, person: Option<Identity>, citizenship: &str| {
        let case = agency
            .store
            .add_case(&[
                Edit::set(ScalarField::Gender, "Feminine"),
                Edit::add(SetField::Citizenship, citizenship),
                Edit::Consent {
                    share_with_partners: Some(true),
                    include_in_statistics: Some(true),
                },
            ])
            .expect("case");
        if let Some(person) = person {
            let index = BlindIndex::compute(&key, &person).expect("index");
            agency
                .store
                .dedup_mut()
                .set_blind_index(&case, &index)
                .expect("set");
        }
    };
    let [almaty, bishkek] = &mut agencies;
    add(
        almaty,
        Some(identity("Aigerim", "Kairatkyzy", "1999-03-14")),
        "KZ",
    );
    add(almaty, None, "KZ");
    add(
        bishkek,
        Some(identity("Айгерим", "Кайраткызы", "14.03.1999")),
        "KZ",
    );
    add(
        bishkek,
        Some(identity("Aigul", "Kairatkyzy", "1999-03-14")),
        "KG",
    );

    let extracts = agencies
        .iter_mut()
        .zip(["Almaty", "Bishkek"])
        .map(|(a, name)| {
            let collected =
                Collected::from_store(&mut a.store, &DateWindow::default()).expect("collect");
            Extract::new(Some(name.into()), collected)
        })
        .collect();
    let combined = combine(extracts, &DateWindow::default()).expect("combine");
    assert_eq!(combined.input.cases, 4);
    assert_eq!(combined.input.duplicates, 1, "Aigerim is counted once");
    assert_eq!(combined.records.len(), 3);
    assert!(combined.input.adds_up());
}
