//! k-anonymity: grouping, suppression, the generalization search, and a checker.
//!
//! Every released column is a quasi-identifier. A record is released only if at least
//! `k` released records share its values in every released column; records in smaller
//! groups are redacted whole (CTDC's rule, k = 11 by default).
//!
//! Generalization is full-domain: one level per attribute for all records (all ages in
//! coarse bands, all citizenships as regions, ...). Because a coarser level only merges
//! groups, every record released at a level is also released at any coarser one, so
//! any generalization releases at least as many records as plain suppression. The
//! search walks the lattice of levels top-down (from "everything dropped" towards
//! "nothing generalized"), specializing one attribute at a time (a beam search keeping
//! the three best nodes of each depth, then hill-climbing one level up or down), and
//! keeps the node that releases the most information: released records × retained
//! precision per record, where an attribute's precision (Sweeney's Prec metric) is 1 at
//! full detail, 0 when dropped, and `1 - level / levels` in between. Groups are
//! counted over bit-packed `u128` keys of distinct records, so each node costs one pass
//! over a hash map. A test checks the search against an exhaustive one.
//!
//! In a combination of sources (agencies' extracts, with or without the store), a
//! group is released only if, besides having k records, every source holds 0 or at
//! least k of them and the other sources 0 or at least k (`Lattice::releasable`), so
//! that a combined count minus one source's own count of the same cell is never a
//! small count (red team round 3, F11). There, coarser levels can release fewer records
//! (a merge can give a source a share below k); outside a combination nothing changes.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use serde::{Deserialize, Serialize};

use super::ctdc::{Attribute, Codec, CountryCodes, NATTR};
use crate::error::{Error, Result};
use crate::model::StatRecord;

/// CTDC's k.
pub const DEFAULT_K: u32 = 11;

/// What to release in a record-level export and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordOptions {
    /// Minimum group size (CTDC uses 11).
    pub k: u32,
    /// The attributes (column groups) to release; all of them by default.
    pub attributes: Vec<Attribute>,
    /// Alpha-2 or alpha-3 country codes.
    pub country_codes: CountryCodes,
    /// Search for a generalization before suppressing.
    pub generalize: bool,
    /// Attributes the search must leave at full detail.
    pub keep: Vec<Attribute>,
}

impl Default for RecordOptions {
    fn default() -> Self {
        RecordOptions {
            k: DEFAULT_K,
            attributes: Attribute::ALL.to_vec(),
            country_codes: CountryCodes::default(),
            generalize: false,
            keep: Vec::new(),
        }
    }
}

/// One attribute's chosen generalization.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttributeLevel {
    /// The attribute (see [`Attribute::name`]).
    pub attribute: String,
    /// Its level, 0 for full detail.
    pub level: u8,
    /// The level's name (`"coarse band"`, `"region"`, `"dropped"`, ...).
    pub level_name: String,
}

/// What a record-level export released and redacted: the exporting agency's own
/// account. What may be published of it is [`RecordReport::published`] (a remainder
/// of 1 to k − 1 redacted records is itself a small count).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordReport {
    /// The k used.
    pub k: u32,
    /// Records that went into anonymization.
    pub eligible: usize,
    /// Records released.
    pub released: usize,
    /// Records redacted because fewer than k released records shared their values
    /// (or, in a combination of sources, because a source held 1 to k − 1 of their
    /// group, or the others did).
    pub redacted_small_groups: usize,
    /// Groups of identical released rows.
    pub released_groups: usize,
    /// Groups smaller than k (all redacted).
    pub redacted_groups: usize,
    /// Records plain suppression (no generalization) would release, for comparison.
    pub plain_suppression_released: usize,
    /// The level of every released attribute.
    pub generalization: Vec<AttributeLevel>,
    /// Lattice nodes the generalization search evaluated.
    pub nodes_evaluated: usize,
    /// Precision each released record keeps after generalization (the mean over the
    /// released attributes of 1 at full detail, 0 dropped), 0 to 1.
    pub precision: f64,
    /// A combination of sources (agencies' extracts, the store): the redacted records
    /// each source held a copy of, by source; empty outside a combination.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redacted_by_source: Vec<usize>,
}

/// The publishable part of a [`RecordReport`]: every number is a count of released
/// records, or a remainder of at least k (or 0); a remainder of 1 to k − 1 is `None`
/// ("fewer than k"), and so is every figure it could be recovered from (decision 0018).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PublishedReport {
    /// The k used.
    pub k: u32,
    /// Records released.
    pub released: usize,
    /// Groups of identical released rows.
    pub released_groups: usize,
    /// Records redacted in groups below k, when 0 or at least k.
    pub redacted_small_groups: Option<usize>,
    /// Records that went into anonymization (released + redacted), when the redacted
    /// count is shown.
    pub eligible: Option<usize>,
    /// Records plain suppression would release, when the difference from `released`
    /// is 0 or at least k.
    pub plain_suppression_released: Option<usize>,
    /// The level of every released attribute.
    pub generalization: Vec<AttributeLevel>,
    /// Precision kept after generalization, 0 to 1.
    pub precision: f64,
}

impl RecordReport {
    /// The redacted remainder when it may be published: 0 or at least k, and in a
    /// combination also every source's share of it and the rest 0 or at least k.
    pub fn publishable_redacted(&self) -> Option<usize> {
        let k = u64::from(self.k);
        let all = self.redacted_small_groups as u64;
        let shares_ok = self
            .redacted_by_source
            .iter()
            .all(|&held| k_safe(held as u64, k) && k_safe(all - held as u64, k));
        (k_safe(all, k) && shares_ok).then_some(self.redacted_small_groups)
    }

    /// What may be published (see [`PublishedReport`]).
    pub fn published(&self) -> PublishedReport {
        let ok = |n: usize| super::tables::publishable_remainder(n as u64, self.k).is_some();
        let combined = !self.redacted_by_source.is_empty();
        let redacted = self.publishable_redacted().is_some();
        PublishedReport {
            k: self.k,
            released: self.released,
            released_groups: self.released_groups,
            redacted_small_groups: redacted.then_some(self.redacted_small_groups),
            eligible: redacted.then_some(self.eligible),
            // In a combination the comparison is not split by source: not published.
            plain_suppression_released: (!combined
                && ok(self
                    .released
                    .saturating_sub(self.plain_suppression_released)))
            .then_some(self.plain_suppression_released),
            generalization: self.generalization.clone(),
            precision: self.precision,
        }
    }
}

/// A k-anonymized record-level export in the CTDC schema.
#[derive(Debug)]
pub struct RecordExport {
    columns: Vec<&'static str>,
    groups: Vec<(Vec<Option<String>>, u32)>,
    country_codes: CountryCodes,
    /// What was released and redacted.
    pub report: RecordReport,
}

/// splitmix64's finalizer: a fast, well-mixed hash of the already-random-ish keys.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Hasher for integer keys (group keys, cell indices). Not for untrusted strings.
#[derive(Default, Clone, Copy)]
pub(crate) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.0 = mix(self.0 ^ u64::from_le_bytes(b));
        }
    }
    fn write_u64(&mut self, x: u64) {
        self.0 = mix(self.0 ^ x);
    }
    fn write_u128(&mut self, x: u128) {
        self.0 = mix(mix(self.0 ^ x as u64) ^ (x >> 64) as u64);
    }
}

/// A hash map over integer keys.
pub(crate) type KeyMap<K, V> = HashMap<K, V, BuildHasherDefault<KeyHasher>>;

fn bits_for(radix: u32) -> u32 {
    32 - radix.saturating_sub(1).leading_zeros()
}

/// Distinct records (classes) at full detail, stored column by column, with the
/// generalization tables of every active attribute.
struct Lattice {
    k: u64,
    attrs: Vec<Attribute>,
    counts: Vec<u32>,
    /// `base[j][class]`: base code of active attribute `j`.
    base: Vec<Vec<u32>>,
    /// `maps[j][level][base]`: generalized code.
    maps: Vec<Vec<Vec<u32>>>,
    /// `bits[j][level]`: key width of the generalized code.
    bits: Vec<Vec<u32>>,
    keys: Vec<u128>,
    groups: KeyMap<u128, u64>,
    /// `masks[class]`: the sources of a combination holding the class's records (see
    /// `Holders`); all 0 outside a combination.
    masks: Vec<u64>,
    /// Sources in the combination (0 outside one).
    sources: usize,
    /// Per group, the records each source holds (combinations only).
    shares: KeyMap<u128, Vec<u64>>,
    evaluated: usize,
}

/// A count that may be published beside others of the same records: 0 or at least k.
fn k_safe(n: u64, k: u64) -> bool {
    n == 0 || n >= k
}

impl Lattice {
    fn new(
        codec: &Codec,
        attrs: Vec<Attribute>,
        encoded: &[([u32; NATTR], u64)],
        k: u32,
    ) -> Lattice {
        let mut maps = Vec::new();
        let mut bits = Vec::new();
        for &a in &attrs {
            let radix = codec.base_radix(a);
            let mut per_level = Vec::new();
            let mut widths = Vec::new();
            for level in 0..=a.dropped_level() {
                let table: Vec<u32> = (0..radix).map(|b| codec.generalize(a, level, b)).collect();
                let max = table.iter().copied().max().unwrap_or(0);
                widths.push(if level == a.dropped_level() {
                    0
                } else {
                    bits_for(max + 1)
                });
                per_level.push(table);
            }
            maps.push(per_level);
            bits.push(widths);
        }
        // Distinct full-detail records, keyed by their base codes.
        let mut classes: KeyMap<(u128, u64), u32> = KeyMap::default();
        let mut counts: Vec<u32> = Vec::new();
        let mut masks: Vec<u64> = Vec::new();
        let mut base: Vec<Vec<u32>> = vec![Vec::new(); attrs.len()];
        for (codes, mask) in encoded {
            let mut key = 0u128;
            let mut shift = 0;
            for (j, a) in attrs.iter().enumerate() {
                key |= u128::from(codes[a.index()]) << shift;
                shift += bits[j][0];
            }
            let next = counts.len() as u32;
            let class = *classes.entry((key, *mask)).or_insert(next);
            if class == next {
                counts.push(0);
                masks.push(*mask);
                for (j, a) in attrs.iter().enumerate() {
                    base[j].push(codes[a.index()]);
                }
            }
            counts[class as usize] += 1;
        }
        let n = counts.len();
        let all = masks.iter().fold(0u64, |a, m| a | m);
        Lattice {
            k: u64::from(k),
            attrs,
            counts,
            base,
            maps,
            bits,
            keys: vec![0; n],
            groups: KeyMap::default(),
            masks,
            sources: (64 - all.leading_zeros()) as usize,
            shares: KeyMap::default(),
            evaluated: 0,
        }
    }

    /// Whether the group `key` of `size` records is released: at least k records and,
    /// in a combination, every source holding 0 or at least k of them and the others
    /// 0 or at least k (else the combination minus one source's own count is small).
    fn releasable(&self, key: &u128, size: u64) -> bool {
        if size < self.k {
            return false;
        }
        match self.shares.get(key) {
            Some(shares) => shares
                .iter()
                .all(|&held| k_safe(held, self.k) && k_safe(size - held, self.k)),
            None => true,
        }
    }

    /// Computes the group key of every class at `levels` (indexed like `attrs`).
    fn key_classes(&mut self, levels: &[u8]) {
        self.keys.iter_mut().for_each(|k| *k = 0);
        let mut shift = 0;
        for (j, &level) in levels.iter().enumerate() {
            let width = self.bits[j][level as usize];
            if width == 0 {
                continue;
            }
            let table = &self.maps[j][level as usize];
            for (key, &b) in self.keys.iter_mut().zip(&self.base[j]) {
                *key |= u128::from(table[b as usize]) << shift;
            }
            shift += width;
        }
    }

    /// Groups the classes at `levels`; leaves group sizes in `self.groups`.
    fn group(&mut self, levels: &[u8]) {
        self.evaluated += 1;
        self.key_classes(levels);
        self.groups.clear();
        for (key, &count) in self.keys.iter().zip(&self.counts) {
            *self.groups.entry(*key).or_insert(0) += u64::from(count);
        }
        self.shares.clear();
        if self.sources > 0 {
            for ((key, &count), &mask) in self.keys.iter().zip(&self.counts).zip(&self.masks) {
                let shares = self
                    .shares
                    .entry(*key)
                    .or_insert_with(|| vec![0; self.sources]);
                for (s, share) in shares.iter_mut().enumerate() {
                    if mask & (1 << s) != 0 {
                        *share += u64::from(count);
                    }
                }
            }
        }
    }

    /// Records released at `levels`.
    fn released(&mut self, levels: &[u8]) -> u64 {
        self.group(levels);
        self.groups
            .iter()
            .filter(|(key, &size)| self.releasable(key, size))
            .map(|(_, &size)| size)
            .sum()
    }

    /// Information per record at `levels`: the sum over attributes of their precision
    /// (Sweeney's Prec: 1 at full detail, 0 dropped, `1 - level / levels` between).
    fn information(&self, levels: &[u8]) -> f64 {
        self.attrs
            .iter()
            .zip(levels)
            .map(|(a, &l)| 1.0 - f64::from(l) / f64::from(a.dropped_level()))
            .sum()
    }

    /// Top-down beam search: from `top`, specialize one attribute by one level at a
    /// time, keeping the [`BEAM`] best nodes of each depth; returns the best node seen.
    fn search(&mut self, top: Vec<u8>) -> Vec<u8> {
        let max_information = self.information(&vec![0; self.attrs.len()]);
        let released = self.released(&top);
        let mut best = (
            released as f64 * self.information(&top),
            released,
            top.clone(),
        );
        let mut frontier = vec![(released, top.clone())];
        while !frontier.is_empty() {
            let mut next: Vec<(f64, u64, Vec<u8>)> = Vec::new();
            for (released, node) in &frontier {
                // Nodes below release no more records than this one, so none can beat
                // `best` once even full information would not.
                if *released as f64 * max_information <= best.0 && best.0 > 0.0 {
                    continue;
                }
                for j in 0..node.len() {
                    if node[j] == 0 {
                        continue;
                    }
                    let mut cand = node.clone();
                    cand[j] -= 1;
                    if next.iter().any(|(_, _, n)| *n == cand) {
                        continue;
                    }
                    let r = self.released(&cand);
                    next.push((r as f64 * self.information(&cand), r, cand));
                }
            }
            next.sort_by(|a, b| b.0.total_cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
            next.truncate(BEAM);
            if let Some(first) = next.first() {
                if (first.0, first.1) > (best.0, best.1) {
                    best = first.clone();
                }
            }
            frontier = next.into_iter().map(|(_, r, n)| (r, n)).collect();
        }
        // Then hill-climb: move one attribute one level up or down (within `top`) while
        // that gains; the walk down can miss nodes that need coarsening one attribute
        // to refine others.
        loop {
            let mut step: Option<(f64, u64, Vec<u8>)> = None;
            for j in 0..best.2.len() {
                for up in [false, true] {
                    let mut cand = best.2.clone();
                    match up {
                        true if cand[j] < top[j] => cand[j] += 1,
                        false if cand[j] > 0 => cand[j] -= 1,
                        _ => continue,
                    }
                    let r = self.released(&cand);
                    let score = r as f64 * self.information(&cand);
                    if step
                        .as_ref()
                        .is_none_or(|(s, sr, _)| (score, r) > (*s, *sr))
                    {
                        step = Some((score, r, cand));
                    }
                }
            }
            match step {
                Some(s) if (s.0, s.1) > (best.0, best.1) => best = s,
                _ => break,
            }
        }
        best.2
    }
}

/// Nodes kept per depth by the generalization search.
const BEAM: usize = 3;

/// Exports `records` (already consent- and date-filtered) k-anonymized in the CTDC
/// schema.
pub fn export_records(records: &[StatRecord], opts: &RecordOptions) -> Result<RecordExport> {
    if opts.k == 0 {
        return Err(Error::invalid("k", "k must be at least 1"));
    }
    let mut attrs: Vec<Attribute> = opts.attributes.clone();
    attrs.sort();
    attrs.dedup();
    if attrs.is_empty() {
        return Err(Error::invalid(
            "attributes",
            "release at least one attribute",
        ));
    }
    let mut codec = Codec::new();
    let encoded: Vec<([u32; NATTR], u64)> = records
        .iter()
        .map(|r| (codec.encode(r), r.holders.0))
        .collect();
    let mut lattice = Lattice::new(&codec, attrs.clone(), &encoded, opts.k);
    let bottom = vec![0u8; attrs.len()];
    let plain = lattice.released(&bottom);
    let levels = if opts.generalize {
        let top: Vec<u8> = attrs
            .iter()
            .map(|a| {
                if opts.keep.contains(a) {
                    0
                } else {
                    a.dropped_level()
                }
            })
            .collect();
        lattice.search(top)
    } else {
        bottom.clone()
    };

    // The release itself: group at the chosen levels, keep groups of at least k.
    lattice.group(&levels);
    let mut released = 0u64;
    let mut released_groups = 0;
    let mut redacted_groups = 0;
    for (key, &size) in &lattice.groups {
        if lattice.releasable(key, size) {
            released += size;
            released_groups += 1;
        } else {
            redacted_groups += 1;
        }
    }
    let mut redacted_by_source = vec![0usize; lattice.sources];
    let mut rows: KeyMap<u128, (Vec<Option<String>>, u32)> = KeyMap::default();
    for (i, key) in lattice.keys.iter().enumerate() {
        let size = lattice.groups.get(key).copied().unwrap_or(0);
        if !lattice.releasable(key, size) {
            for (s, n) in redacted_by_source.iter_mut().enumerate() {
                if lattice.masks[i] & (1 << s) != 0 {
                    *n += lattice.counts[i] as usize;
                }
            }
            continue;
        }
        let entry = rows.entry(*key).or_insert_with(|| {
            let mut cells = Vec::new();
            for (j, (&a, &level)) in attrs.iter().zip(&levels).enumerate() {
                let code = lattice.maps[j][level as usize][lattice.base[j][i] as usize];
                cells.extend(codec.render(a, level, code, opts.country_codes));
            }
            (cells, 0)
        });
        entry.1 += lattice.counts[i];
    }
    let mut groups: Vec<(Vec<Option<String>>, u32)> = rows.into_values().collect();
    groups.sort();
    // Nothing released (no eligible record, or none in a group of k): no value is
    // generalized, and the file still has the plain header, so readers see the
    // columns (pandas refuses a file without one).
    let levels = if released == 0 { bottom } else { levels };
    let columns: Vec<&'static str> = attrs
        .iter()
        .zip(&levels)
        .flat_map(|(a, &l)| a.columns(l).iter().copied())
        .collect();
    let generalization = attrs
        .iter()
        .zip(&levels)
        .map(|(a, &l)| AttributeLevel {
            attribute: a.name().to_string(),
            level: l,
            level_name: a.levels()[l as usize].to_string(),
        })
        .collect();
    let report = RecordReport {
        k: opts.k,
        eligible: records.len(),
        released: released as usize,
        redacted_small_groups: records.len() - released as usize,
        released_groups,
        redacted_groups,
        plain_suppression_released: plain as usize,
        generalization,
        nodes_evaluated: lattice.evaluated,
        precision: lattice.information(&levels) / attrs.len() as f64,
        redacted_by_source,
    };
    Ok(RecordExport {
        columns,
        groups,
        country_codes: opts.country_codes,
        report,
    })
}

/// Quotes a CSV field when needed (RFC 4180).
pub(crate) fn csv_field(out: &mut String, value: &str) {
    if value.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(value);
    }
}

impl RecordExport {
    /// The released CTDC columns, in CTDC order.
    pub fn columns(&self) -> &[&'static str] {
        &self.columns
    }

    /// The released rows (`None`: missing value), in a stable order that says nothing
    /// about the order cases were registered in.
    pub fn rows(&self) -> impl Iterator<Item = &[Option<String>]> + '_ {
        self.groups
            .iter()
            .flat_map(|(row, n)| std::iter::repeat_n(row.as_slice(), *n as usize))
    }

    /// The released rows, each distinct row once with its number of records.
    pub(crate) fn groups(&self) -> &[(Vec<Option<String>>, u32)] {
        &self.groups
    }

    /// The country code style used.
    pub fn country_codes(&self) -> CountryCodes {
        self.country_codes
    }

    /// CSV with a header line, missing values empty, as in CTDC releases.
    pub fn to_csv(&self) -> String {
        let mut out = String::with_capacity(64 + self.report.released * self.columns.len() * 3);
        out.push_str(&self.columns.join(","));
        out.push('\n');
        for (row, n) in &self.groups {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                if i > 0 {
                    line.push(',');
                }
                csv_field(&mut line, cell.as_deref().unwrap_or(""));
            }
            line.push('\n');
            for _ in 0..*n {
                out.push_str(&line);
            }
        }
        out
    }

    /// A JSON document in the Caravan layout (see [`RecordExport::to_json_in`]):
    /// numbers and booleans typed, missing values `null`.
    pub fn to_json(&self) -> Result<String> {
        self.to_json_in(super::schema::Schema::Caravan)
    }
}

/// Serializes one value as JSON.
pub(crate) fn json<T: Serialize + ?Sized>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::Internal(format!("json: {e}")))
}

/// Group sizes recomputed from released rows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KCheck {
    /// Rows checked.
    pub rows: usize,
    /// Distinct rows (groups).
    pub groups: usize,
    /// The smallest group (0 when there are no rows).
    pub smallest_group: usize,
    /// Groups smaller than k.
    pub groups_below_k: usize,
}

impl KCheck {
    /// Whether every group has at least `k` rows.
    pub fn holds(&self) -> bool {
        self.groups_below_k == 0
    }
}

/// Recomputes group sizes over every column of `rows` (e.g. a CSV file read back) and
/// counts groups smaller than `k`. Independent of how the export was computed.
pub fn check_k_anonymity<R: AsRef<[S]>, S: AsRef<str>>(
    rows: impl IntoIterator<Item = R>,
    k: usize,
) -> KCheck {
    let mut groups: HashMap<Vec<String>, usize> = HashMap::new();
    let mut n = 0;
    for row in rows {
        n += 1;
        let key: Vec<String> = row
            .as_ref()
            .iter()
            .map(|s| s.as_ref().to_string())
            .collect();
        *groups.entry(key).or_insert(0) += 1;
    }
    KCheck {
        rows: n,
        groups: groups.len(),
        smallest_group: groups.values().copied().min().unwrap_or(0),
        groups_below_k: groups.values().filter(|&&c| c < k).count(),
    }
}

/// Parses CSV text (RFC 4180: quoted fields, doubled quotes) into a header and rows.
pub fn parse_csv(text: &str) -> Result<(Vec<String>, Vec<Vec<String>>)> {
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut row: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        any = true;
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => quoted = true,
            ',' => row.push(std::mem::take(&mut field)),
            '\r' => {}
            '\n' => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
                any = false;
            }
            _ => field.push(c),
        }
    }
    if quoted {
        return Err(Error::invalid("csv", "a quoted field is not closed"));
    }
    if any {
        row.push(field);
        rows.push(row);
    }
    let mut rows = rows.into_iter();
    let header = rows
        .next()
        .ok_or_else(|| Error::invalid("csv", "the file is empty"))?;
    let rows: Vec<Vec<String>> = rows.collect();
    if let Some((i, r)) = rows
        .iter()
        .enumerate()
        .find(|(_, r)| r.len() != header.len())
    {
        return Err(Error::invalid(
            "csv",
            format!(
                "row {} has {} fields, the header {}",
                i + 2,
                r.len(),
                header.len()
            ),
        ));
    }
    Ok((header, rows))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::testdata;

    #[test]
    fn an_export_of_no_record_still_has_its_header() {
        // No eligible record, or too few for one group of k (the generalization search
        // then climbs to dropping every attribute), with and without the search.
        let few = testdata::skewed(3, 7);
        for records in [&[][..], &few[..]] {
            for generalize in [false, true] {
                let opts = RecordOptions {
                    generalize,
                    ..RecordOptions::default()
                };
                let export = export_records(records, &opts).expect("export");
                assert_eq!(export.report.released, 0);
                let csv = export.to_csv();
                let (header, rows) = parse_csv(&csv).expect("csv");
                assert!(rows.is_empty());
                assert!(header.len() >= 20, "{csv:?}");
                assert_eq!(header, export.columns());
                assert_eq!(csv, format!("{}\n", header.join(",")));
            }
        }
    }

    fn check_export(export: &RecordExport, k: u32) {
        let csv = export.to_csv();
        let (header, rows) = parse_csv(&csv).expect("csv");
        assert_eq!(header, export.columns());
        assert_eq!(rows.len(), export.report.released);
        let check = check_k_anonymity(&rows, k as usize);
        assert!(check.holds(), "{check:?}");
        assert!(rows.is_empty() || check.smallest_group >= k as usize);
        let r = &export.report;
        assert_eq!(r.released + r.redacted_small_groups, r.eligible);
        assert!(r.released >= r.plain_suppression_released);
        // The JSON form holds the same records.
        let json: serde_json::Value =
            serde_json::from_str(&export.to_json().expect("json")).unwrap();
        assert_eq!(json["records"].as_array().unwrap().len(), r.released);
        assert_eq!(json["report"]["released"], r.released);
    }

    #[test]
    fn k_anonymity_holds_with_and_without_generalization() {
        let records = testdata::skewed(2_000, 7);
        for k in [2, 5, 11, 25] {
            for generalize in [false, true] {
                let opts = RecordOptions {
                    k,
                    generalize,
                    ..RecordOptions::default()
                };
                let export = export_records(&records, &opts).unwrap();
                check_export(&export, k);
                if !generalize {
                    assert_eq!(
                        export.report.released,
                        export.report.plain_suppression_released
                    );
                    assert_eq!(export.columns().len(), 39);
                }
            }
        }
    }

    #[test]
    fn generalization_releases_at_least_as_many_on_10k_skewed_cases() {
        let records = testdata::skewed(10_000, 42);
        let plain = export_records(&records, &RecordOptions::default()).unwrap();
        let opts = RecordOptions {
            generalize: true,
            ..RecordOptions::default()
        };
        let general = export_records(&records, &opts).unwrap();
        check_export(&plain, 11);
        check_export(&general, 11);
        assert!(general.report.released >= plain.report.released);
        assert_eq!(
            general.report.plain_suppression_released,
            plain.report.released
        );
        // On realistic, skewed data it keeps far more records, and it still releases
        // columns (it did not just drop everything).
        assert!(
            general.report.released > plain.report.released * 2 + 1_000,
            "plain {} generalized {}",
            plain.report.released,
            general.report.released
        );
        assert!(general.columns().len() >= 5, "{:?}", general.columns());
    }

    #[test]
    fn the_search_finds_the_best_node_of_the_lattice() {
        let records = testdata::skewed(4_000, 5);
        let attrs = vec![
            Attribute::Year,
            Attribute::Gender,
            Attribute::Age,
            Attribute::Citizenship,
            Attribute::CountryOfExploitation,
            Attribute::Exploitation,
            Attribute::Means,
            Attribute::Labour,
        ];
        let mut codec = Codec::new();
        let encoded: Vec<([u32; NATTR], u64)> = records
            .iter()
            .map(|r| (codec.encode(r), r.holders.0))
            .collect();
        let mut lattice = Lattice::new(&codec, attrs.clone(), &encoded, 11);
        let top: Vec<u8> = attrs.iter().map(|a| a.dropped_level()).collect();
        let found = lattice.search(top.clone());
        let score = |l: &mut Lattice, n: &[u8]| l.released(n) as f64 * l.information(n);
        let found_score = score(&mut lattice, &found);
        let mut node = vec![0u8; attrs.len()];
        let mut nodes = 0;
        'all: loop {
            nodes += 1;
            let s = score(&mut lattice, &node);
            assert!(
                s <= found_score + 1e-9,
                "{node:?} scores {s} > {found:?} {found_score}"
            );
            let mut i = 0;
            while node[i] == top[i] {
                node[i] = 0;
                i += 1;
                if i == node.len() {
                    break 'all;
                }
            }
            node[i] += 1;
        }
        assert_eq!(nodes, 3 * 2 * 4 * 3 * 3 * 2 * 2 * 2);
    }

    #[test]
    fn kept_attributes_stay_at_full_detail() {
        let records = testdata::skewed(3_000, 3);
        let opts = RecordOptions {
            generalize: true,
            keep: vec![Attribute::Citizenship],
            ..RecordOptions::default()
        };
        let export = export_records(&records, &opts).unwrap();
        check_export(&export, 11);
        let level = export
            .report
            .generalization
            .iter()
            .find(|g| g.attribute == "citizenship");
        assert_eq!(level.map(|g| g.level), Some(0));
        assert!(export.columns().contains(&"citizenship"));
    }

    #[test]
    fn tiny_inputs_release_nothing_below_k() {
        let records = testdata::skewed(10, 1);
        for generalize in [false, true] {
            let opts = RecordOptions {
                generalize,
                ..RecordOptions::default()
            };
            let export = export_records(&records, &opts).unwrap();
            assert_eq!(export.report.released, 0);
            assert_eq!(export.report.redacted_small_groups, 10);
            assert_eq!(export.to_csv().lines().count(), 1);
        }
        let none = export_records(&[], &RecordOptions::default()).unwrap();
        assert_eq!(none.report.released, 0);
        let bad = RecordOptions {
            k: 0,
            ..RecordOptions::default()
        };
        assert!(export_records(&records, &bad).is_err());
    }

    #[test]
    fn alpha2_and_alpha3() {
        let records = testdata::skewed(3_000, 9);
        let attributes = vec![Attribute::Citizenship, Attribute::CountryOfExploitation];
        for (codes, len) in [(CountryCodes::Alpha2, 2), (CountryCodes::Alpha3, 3)] {
            let opts = RecordOptions {
                attributes: attributes.clone(),
                country_codes: codes,
                ..RecordOptions::default()
            };
            let export = export_records(&records, &opts).unwrap();
            assert!(export.report.released > 2_000);
            for row in export.rows() {
                for cell in row.iter().flatten() {
                    assert_eq!(cell.len(), len, "{cell}");
                }
            }
            check_export(&export, 11);
        }
    }

    #[test]
    fn checker_finds_small_groups_and_csv_round_trips() {
        let rows = vec![vec!["a", "1"], vec!["a", "1"], vec!["b", "2"]];
        let c = check_k_anonymity(&rows, 2);
        assert_eq!(
            (c.rows, c.groups, c.smallest_group, c.groups_below_k),
            (3, 2, 1, 1)
        );
        assert!(!c.holds());
        let (h, r) = parse_csv("x,y\n\"a,b\",\"q\"\"\"\n,\n").unwrap();
        assert_eq!(h, ["x", "y"]);
        assert_eq!(
            r,
            vec![
                vec!["a,b".to_string(), "q\"".into()],
                vec![String::new(), String::new()]
            ]
        );
        assert!(parse_csv("x,y\n1\n").is_err());
        let mut s = String::new();
        csv_field(&mut s, "Trans/Transgender/NonConforming");
        assert_eq!(s, "Trans/Transgender/NonConforming");
    }
}
