//! The vocabularies themselves: codes and labels.
//!
//! Codes follow HTCDS v2 and the CTDC codebook (see `docs/case-model.md`). Add a label
//! language to an entry as `kk: "..."` after `ru:`; never change or reuse a code.

use super::{define_vocabulary, Vocabulary, VocabularyTable};

// ---------------------------------------------------------------------------------------
// Person / victim
// ---------------------------------------------------------------------------------------

define_vocabulary! {
    /// Gender as recorded by HTCDS v2.
    Gender = "gender" {
        /// Feminine.
        Feminine = "Feminine" { en: "Feminine", ru: "Женский" },
        /// Masculine.
        Masculine = "Masculine" { en: "Masculine", ru: "Мужской" },
        /// Transgender, feminine.
        TransgenderFeminine = "TransgenderFeminine" {
            en: "Transgender feminine",
            ru: "Трансгендерная женщина",
        },
        /// Transgender, masculine.
        TransgenderMasculine = "TransgenderMasculine" {
            en: "Transgender masculine",
            ru: "Трансгендерный мужчина",
        },
        /// Gender non-conforming or non-binary.
        NonConforming = "NonConforming" {
            en: "Gender non-conforming",
            ru: "Гендерно неконформный (небинарный)",
        },
        /// Not specified or not known.
        NonSpecifiedUnknown = "NonSpecifiedUnknown" {
            en: "Not specified / unknown",
            ru: "Не указан / неизвестен",
        },
    }
}

define_vocabulary! {
    /// Age band (CTDC `ageBroad`); Caravan never stores an exact age or birth date.
    AgeBand = "age_band" {
        /// 0 to 8 years.
        Age0To8 = "0-8" { en: "0–8 years", ru: "0–8 лет" },
        /// 9 to 17 years.
        Age9To17 = "9-17" { en: "9–17 years", ru: "9–17 лет" },
        /// 18 to 20 years.
        Age18To20 = "18-20" { en: "18–20 years", ru: "18–20 лет" },
        /// 21 to 23 years.
        Age21To23 = "21-23" { en: "21–23 years", ru: "21–23 года" },
        /// 24 to 26 years.
        Age24To26 = "24-26" { en: "24–26 years", ru: "24–26 лет" },
        /// 27 to 29 years.
        Age27To29 = "27-29" { en: "27–29 years", ru: "27–29 лет" },
        /// 30 to 38 years.
        Age30To38 = "30-38" { en: "30–38 years", ru: "30–38 лет" },
        /// 39 to 47 years.
        Age39To47 = "39-47" { en: "39–47 years", ru: "39–47 лет" },
        /// 48 years or older.
        Age48Plus = "48+" { en: "48 years and over", ru: "48 лет и старше" },
    }
}

impl AgeBand {
    /// Whether the band lies entirely below 18: `Some(true)` for 0–8 and 9–17,
    /// `Some(false)` for the adult bands, `None` for a code this version does not know.
    pub fn is_minor(&self) -> Option<bool> {
        match self {
            AgeBand::Age0To8 | AgeBand::Age9To17 => Some(true),
            AgeBand::Age18To20
            | AgeBand::Age21To23
            | AgeBand::Age24To26
            | AgeBand::Age27To29
            | AgeBand::Age30To38
            | AgeBand::Age39To47
            | AgeBand::Age48Plus => Some(false),
            AgeBand::Unknown(_) => None,
        }
    }
}

define_vocabulary! {
    /// Majority status (CTDC `majorityStatus`, at registration, exploitation or entry).
    MajorityStatus = "majority_status" {
        /// 18 or older.
        Adult = "Adult" { en: "Adult", ru: "Совершеннолетний" },
        /// Under 18.
        Minor = "Minor" { en: "Minor", ru: "Несовершеннолетний" },
    }
}

define_vocabulary! {
    /// Trafficking status of the person (HTCDS v2).
    TraffickingStatus = "trafficking_status" {
        /// Possibly a victim of trafficking; not yet decided.
        Possible = "Possible" {
            en: "Possible victim of trafficking",
            ru: "Предполагаемая жертва торговли людьми",
        },
        /// Identified as a victim of trafficking by a deciding organisation.
        Actual = "Actual" {
            en: "Actual victim of trafficking",
            ru: "Установленная жертва торговли людьми",
        },
        /// Found not to be a victim of trafficking.
        NotAVictimOfTrafficking = "NotAVictimOfTrafficking" {
            en: "Not a victim of trafficking",
            ru: "Не является жертвой торговли людьми",
        },
    }
}

define_vocabulary! {
    /// The kind of organisation that decided the trafficking status (HTCDS v2).
    DecisionOrganisation = "decision_organisation" {
        /// Police.
        Police = "Police" { en: "Police", ru: "Полиция" },
        /// Non-governmental organisation.
        Ngo = "NGO" { en: "NGO", ru: "Неправительственная организация (НПО)" },
        /// A court or the prosecution service.
        CourtOrProsecution = "CourtOrProsecution" {
            en: "Court or prosecution",
            ru: "Суд или прокуратура",
        },
        /// A government body other than the police.
        NonPoliceGovernmentalOrganization = "NonPoliceGovernmentalOrganization" {
            en: "Non-police government body",
            ru: "Государственный орган (кроме полиции)",
        },
        /// Another kind of organisation.
        Other = "Other" { en: "Other", ru: "Другая организация" },
    }
}

define_vocabulary! {
    /// The person's relationship to the trafficker (HTCDS v2).
    RelationshipToTrafficker = "relationship_to_trafficker" {
        /// A relative.
        Familial = "Familial" { en: "Relative", ru: "Родственник" },
        /// Someone the person knew.
        Acquainted = "Acquainted" { en: "Acquaintance", ru: "Знакомый" },
        /// Someone the person did not know.
        Unacquainted = "Unacquainted" { en: "Stranger", ru: "Незнакомый человек" },
    }
}

define_vocabulary! {
    /// The recruiter's relation to the person (CTDC `recruiterRelation*`).
    RecruiterRelation = "recruiter_relation" {
        /// Spouse, partner, boyfriend or girlfriend.
        IntimatePartner = "IntimatePartner" {
            en: "Intimate partner",
            ru: "Интимный партнёр (супруг, парень, девушка)",
        },
        /// A friend.
        Friend = "Friend" { en: "Friend", ru: "Друг или подруга" },
        /// A family member.
        Family = "Family" { en: "Family member", ru: "Член семьи" },
        /// Any other relation.
        Other = "Other" { en: "Other", ru: "Другое" },
    }
}

define_vocabulary! {
    /// How the person was recruited (HTCDS v2 `MethodOfRecruitment`).
    RecruitmentMethod = "recruitment_method" {
        /// At a shop, bar, office or other business.
        AtAPlaceOfBusiness = "AtAPlaceOfBusiness" {
            en: "At a place of business",
            ru: "В заведении или организации (магазин, кафе, офис)",
        },
        /// At a school, college or university.
        AtAnEducationalInstitution = "AtAnEducationalInstitution" {
            en: "At an educational institution",
            ru: "В учебном заведении",
        },
        /// At the person's workplace.
        AtWork = "AtWork" { en: "At work", ru: "На работе" },
        /// Through social networks online.
        ThroughOnlineSocialNetworks = "ThroughOnlineSocialNetworks" {
            en: "Through online social networks",
            ru: "Через социальные сети",
        },
        /// Through an advertisement online.
        ThroughAnOnlineAdvertisement = "ThroughAnOnlineAdvertisement" {
            en: "Through an online advertisement",
            ru: "Через объявление в интернете",
        },
        /// Through a television advertisement.
        ThroughATelevisionAdvert = "ThroughATelevisionAdvert" {
            en: "Through a television advert",
            ru: "Через рекламу по телевидению",
        },
        /// Through a newspaper advertisement.
        ThroughANewspaperAdvert = "ThroughANewspaperAdvert" {
            en: "Through a newspaper advert",
            ru: "Через объявление в газете",
        },
        /// Through family or at family events.
        ThroughFamilyOrFamilyEvents = "ThroughFamilyOrFamilyEvents" {
            en: "Through family or family events",
            ru: "Через семью или на семейных мероприятиях",
        },
        /// Through friends or at social events.
        ThroughFriendsOrSocialEvents = "ThroughFriendsOrSocialEvents" {
            en: "Through friends or social events",
            ru: "Через друзей или на общественных мероприятиях",
        },
        /// Any other way.
        Other = "Other" { en: "Other", ru: "Другое" },
    }
}

define_vocabulary! {
    /// Apps used in recruitment or exploitation (HTCDS v2).
    RecruitmentApp = "recruitment_app" {
        /// Facebook.
        Facebook = "Facebook" { en: "Facebook", ru: "Соцсеть Facebook" },
        /// Instagram.
        Instagram = "Instagram" { en: "Instagram", ru: "Соцсеть Instagram" },
        /// WhatsApp.
        WhatsApp = "WhatsApp" { en: "WhatsApp", ru: "Мессенджер WhatsApp" },
        /// Telegram.
        Telegram = "Telegram" { en: "Telegram", ru: "Мессенджер Telegram" },
        /// Facebook Messenger.
        FacebookMessenger = "FacebookMessenger" {
            en: "Facebook Messenger",
            ru: "Мессенджер Facebook (Messenger)",
        },
        /// Viber.
        Viber = "Viber" { en: "Viber", ru: "Мессенджер Viber" },
        /// Snapchat.
        SnapChat = "SnapChat" { en: "Snapchat", ru: "Приложение Snapchat" },
        /// LINE.
        Line = "Line" { en: "LINE", ru: "Мессенджер LINE" },
        /// 4Sale (classified ads app).
        FourSale = "4Sale" { en: "4Sale", ru: "Приложение объявлений 4Sale" },
        /// WeChat.
        WeChat = "WeChat" { en: "WeChat", ru: "Мессенджер WeChat" },
        /// QQ.
        Qq = "QQ" { en: "QQ", ru: "Мессенджер QQ" },
        /// Qzone.
        QZone = "QZone" { en: "Qzone", ru: "Соцсеть Qzone" },
        /// TikTok.
        TikTok = "TikTok" { en: "TikTok", ru: "Приложение TikTok" },
        /// Twitter (now X).
        Twitter = "Twitter" { en: "Twitter (X)", ru: "Соцсеть X (Twitter)" },
        /// Any other app.
        Other = "Other" { en: "Other app", ru: "Другое приложение" },
    }
}

define_vocabulary! {
    /// Means the exploiters used to control the person (HTCDS v2 `MethodsOfControl`).
    MeansOfControl = "means_of_control" {
        /// Threats of harm or loss to the person or others.
        PhysicalThreats = "PhysicalThreats" { en: "Threats of harm", ru: "Угрозы причинить вред" },
        /// Threats to involve the police, immigration or other authorities.
        ThreatsLawEnforcement = "ThreatsLawEnforcement" {
            en: "Threats to report to the police or authorities",
            ru: "Угрозы сообщить в полицию или другие органы",
        },
        /// Threats against the person's children or family.
        ThreatensChildrenFamily = "ThreatensChildrenFamily" {
            en: "Threats against children or family",
            ru: "Угрозы детям или родственникам",
        },
        /// Work demanded to pay off a real or invented debt.
        DebtBondage = "DebtBondage" { en: "Debt bondage", ru: "Долговая кабала" },
        /// Deception and false promises.
        FalsePromises = "FalsePromises" { en: "False promises", ru: "Ложные обещания" },
        /// Physical violence.
        PhysicalAbuse = "PhysicalAbuse" { en: "Physical abuse", ru: "Физическое насилие" },
        /// Sexual violence used as a means of control.
        SexualAbuse = "SexualAbuse" { en: "Sexual abuse", ru: "Сексуальное насилие" },
        /// The exploiters take the person's earnings.
        TakesEarnings = "TakesEarnings" { en: "Takes earnings", ru: "Отбирание заработка" },
        /// Access to money, bank accounts or cards is restricted.
        RestrictsFinancialAccess = "RestrictsFinancialAccess" {
            en: "Restricts access to money",
            ru: "Ограничение доступа к деньгам",
        },
        /// Access to medical care is restricted or controlled.
        RestrictsMedicalCare = "RestrictsMedicalCare" {
            en: "Restricts medical care",
            ru: "Ограничение доступа к медицинской помощи",
        },
        /// Food, water, shelter, hygiene or clothing are withheld.
        WithholdsNecessities = "WithholdsNecessities" {
            en: "Withholds necessities",
            ru: "Лишение самого необходимого (еда, вода, жильё, гигиена)",
        },
        /// Emotional abuse, humiliation, manipulation.
        PsychologicalAbuse = "PsychologicalAbuse" {
            en: "Psychological abuse",
            ru: "Психологическое насилие",
        },
        /// Alcohol or drugs used to control the person.
        PsychoactiveSubstance = "PsychoactiveSubstance" {
            en: "Alcohol or drugs",
            ru: "Использование алкоголя или наркотиков",
        },
        /// Working hours far beyond what was agreed.
        ExcessiveWorkingHours = "ExcessiveWorkingHours" {
            en: "Excessive working hours",
            ru: "Чрезмерно длительный рабочий день",
        },
        /// Passport or other documents are taken or controlled.
        WithholdsDocuments = "WithholdsDocuments" {
            en: "Withholds documents",
            ru: "Изъятие документов (паспорта и др.)",
        },
        /// Movement or contact with others is restricted.
        RestrictsMovement = "RestrictsMovement" {
            en: "Restricts movement",
            ru: "Ограничение свободы передвижения",
        },
        /// Access to the person's own children is restricted as a means of control.
        UsesChildren = "UsesChildren" {
            en: "Restricts access to own children",
            ru: "Ограничение общения с собственными детьми",
        },
        /// Any other means.
        Other = "Other" { en: "Other", ru: "Другое" },
    }
}

define_vocabulary! {
    /// Type of exploitation (HTCDS v2 `TypeOfExploitation`).
    ExploitationType = "exploitation_type" {
        /// Forced labour.
        ForcedLabour = "ForcedLabour" { en: "Forced labour", ru: "Принудительный труд" },
        /// Sexual exploitation.
        SexualExploitation = "SexualExploitation" {
            en: "Sexual exploitation",
            ru: "Сексуальная эксплуатация",
        },
        /// Exploitation of child labour.
        ChildLabour = "ChildLabour" { en: "Child labour", ru: "Эксплуатация детского труда" },
        /// Forced marriage.
        ForcedMarriage = "ForcedMarriage" { en: "Forced marriage", ru: "Принудительный брак" },
        /// Servitude.
        Servitude = "Servitude" { en: "Servitude", ru: "Подневольное состояние" },
        /// Forced service with non-state armed groups.
        ForcedMilitaryByNonStateActors = "ForcedMilitaryByNonStateActors" {
            en: "Forced military service (non-state armed groups)",
            ru: "Принуждение к участию в незаконных вооружённых формированиях",
        },
        /// Removal of organs.
        OrganRemoval = "OrganRemoval" { en: "Organ removal", ru: "Изъятие органов" },
        /// Forced begging.
        ForcedBegging = "ForcedBegging" {
            en: "Forced begging",
            ru: "Принуждение к попрошайничеству",
        },
        /// Forced or illegal adoption.
        ForcedAdoption = "ForcedAdoption" {
            en: "Forced adoption",
            ru: "Принудительное или незаконное усыновление",
        },
        /// Forced surrogacy.
        Surrogacy = "Surrogacy" { en: "Surrogacy", ru: "Суррогатное материнство" },
        /// Forced criminal activity.
        ForcedCriminality = "ForcedCriminality" {
            en: "Forced criminality",
            ru: "Принуждение к преступной деятельности",
        },
        /// Any other type.
        Other = "Other" { en: "Other", ru: "Другое" },
    }
}

define_vocabulary! {
    /// Industry of forced labour: ISIC Rev. 4 sections, with the codes used by HTCDS.
    LabourIndustry = "labour_industry" {
        /// ISIC Rev. 4 section A.
        AgricultureForestryAndFishing = "A_AgricultureForestryAndFishing" {
            en: "Agriculture, forestry and fishing",
            ru: "Сельское, лесное и рыбное хозяйство",
        },
        /// ISIC Rev. 4 section B.
        MiningAndQuarrying = "B_MiningAndQuarrying" {
            en: "Mining and quarrying",
            ru: "Горнодобывающая промышленность и разработка карьеров",
        },
        /// ISIC Rev. 4 section C.
        Manufacturing = "C_Manufacturing" { en: "Manufacturing", ru: "Обрабатывающая промышленность" },
        /// ISIC Rev. 4 section D.
        ElectricityGasSteamAndAirConditioningSupply = "D_ElectricityGasSteamAndAirConditioningSupply" {
            en: "Electricity, gas, steam and air conditioning supply",
            ru: "Электроснабжение, подача газа, пара и воздушное кондиционирование",
        },
        /// ISIC Rev. 4 section E.
        WaterSupplySewerageWasteManagement = "E_WaterSupplySewerageWasteManagement" {
            en: "Water supply; sewerage, waste management and remediation",
            ru: "Водоснабжение; водоотведение, сбор и утилизация отходов",
        },
        /// ISIC Rev. 4 section F.
        Construction = "F_Construction" { en: "Construction", ru: "Строительство" },
        /// ISIC Rev. 4 section G.
        WholesaleAndRetailTradeRepairOfMotorVehicles = "G_WholesaleAndRetailTradeRepairOfMotorVehicles" {
            en: "Wholesale and retail trade; repair of motor vehicles and motorcycles",
            ru: "Оптовая и розничная торговля; ремонт автомобилей и мотоциклов",
        },
        /// ISIC Rev. 4 section H.
        TransportationAndStorage = "H_TransportationAndStorage" {
            en: "Transportation and storage",
            ru: "Транспорт и складирование",
        },
        /// ISIC Rev. 4 section I.
        AccommodationAndFoodServiceActivities = "I_AccommodationAndFoodServiceActivities" {
            en: "Accommodation and food service activities",
            ru: "Предоставление услуг по проживанию и питанию",
        },
        /// ISIC Rev. 4 section J.
        InformationAndCommunication = "J_InformationAndCommunication" {
            en: "Information and communication",
            ru: "Информация и связь",
        },
        /// ISIC Rev. 4 section K.
        FinancialAndInsuranceActivities = "K_FinancialAndInsuranceActivities" {
            en: "Financial and insurance activities",
            ru: "Финансовая и страховая деятельность",
        },
        /// ISIC Rev. 4 section L.
        RealEstateActivities = "L_RealEstateActivities" {
            en: "Real estate activities",
            ru: "Операции с недвижимым имуществом",
        },
        /// ISIC Rev. 4 section M.
        ProfessionalScientificAndTechnicalActivities = "M_ProfessionalScientificAndTechnicalActivities" {
            en: "Professional, scientific and technical activities",
            ru: "Профессиональная, научная и техническая деятельность",
        },
        /// ISIC Rev. 4 section N.
        AdministrativeAndSupportServiceActivities = "N_AdministrativeAndSupportServiceActivities" {
            en: "Administrative and support service activities",
            ru: "Административное и вспомогательное обслуживание",
        },
        /// ISIC Rev. 4 section O.
        PublicAdministrationAndDefence = "O_PublicAdministrationAndDefence" {
            en: "Public administration and defence; compulsory social security",
            ru: "Государственное управление и оборона; обязательное социальное обеспечение",
        },
        /// ISIC Rev. 4 section P.
        Education = "P_Education" { en: "Education", ru: "Образование" },
        /// ISIC Rev. 4 section Q.
        HumanHealthAndSocialWorkActivities = "Q_HumanHealthAndSocialWorkActivities" {
            en: "Human health and social work activities",
            ru: "Здравоохранение и социальные услуги",
        },
        /// ISIC Rev. 4 section R.
        ArtsEntertainmentAndRecreation = "R_ArtsEntertainmentAndRecreation" {
            en: "Arts, entertainment and recreation",
            ru: "Искусство, развлечения и отдых",
        },
        /// ISIC Rev. 4 section S.
        OtherServiceActivities = "S_OtherServiceActivities" {
            en: "Other service activities",
            ru: "Предоставление прочих видов услуг",
        },
        /// ISIC Rev. 4 section T.
        ActivitiesOfHouseholdsAsEmployers = "T_ActivitiesOfHouseholdsAsEmployers" {
            en: "Households as employers (domestic work)",
            ru: "Работа в частных домохозяйствах (домашний труд)",
        },
        /// ISIC Rev. 4 section U.
        ActivitiesOfExtraterritorialOrganizations = "U_ActivitiesOfExtraterritorialOrganizations" {
            en: "Extraterritorial organizations and bodies",
            ru: "Экстерриториальные организации и органы",
        },
        /// Any other industry.
        Other = "Other" { en: "Other", ru: "Другое" },
    }
}

impl LabourIndustry {
    /// The closest value of CTDC's short `typeOfLabour` list (`"Agriculture"`,
    /// `"Construction"`, `"DomesticWork"`, ...), used for CTDC-shaped exports.
    /// Sections without a CTDC counterpart, and unknown codes, map to `"Other"`.
    pub fn ctdc_type_of_labour(&self) -> &'static str {
        match self {
            LabourIndustry::AgricultureForestryAndFishing => "Agriculture",
            LabourIndustry::MiningAndQuarrying => "MiningOrDrilling",
            LabourIndustry::Manufacturing => "Manufacturing",
            LabourIndustry::Construction => "Construction",
            LabourIndustry::WholesaleAndRetailTradeRepairOfMotorVehicles => "Peddling",
            LabourIndustry::TransportationAndStorage => "Transportation",
            LabourIndustry::AccommodationAndFoodServiceActivities => "Hospitality",
            LabourIndustry::ActivitiesOfHouseholdsAsEmployers => "DomesticWork",
            LabourIndustry::ElectricityGasSteamAndAirConditioningSupply
            | LabourIndustry::WaterSupplySewerageWasteManagement
            | LabourIndustry::InformationAndCommunication
            | LabourIndustry::FinancialAndInsuranceActivities
            | LabourIndustry::RealEstateActivities
            | LabourIndustry::ProfessionalScientificAndTechnicalActivities
            | LabourIndustry::AdministrativeAndSupportServiceActivities
            | LabourIndustry::PublicAdministrationAndDefence
            | LabourIndustry::Education
            | LabourIndustry::HumanHealthAndSocialWorkActivities
            | LabourIndustry::ArtsEntertainmentAndRecreation
            | LabourIndustry::OtherServiceActivities
            | LabourIndustry::ActivitiesOfExtraterritorialOrganizations
            | LabourIndustry::Other
            | LabourIndustry::Unknown(_) => "Other",
        }
    }
}

define_vocabulary! {
    /// Type of sexual exploitation (HTCDS v2 `TypeOfSexExploitation`).
    SexualExploitationType = "sexual_exploitation_type" {
        /// Prostitution.
        Prostitution = "Prostitution" { en: "Prostitution", ru: "Проституция" },
        /// Pornography.
        Pornography = "Pornography" { en: "Pornography", ru: "Порнография" },
        /// Remote interactive sexual services (webcam, chat).
        RemoteInteractiveServices = "RemoteInteractiveServices" {
            en: "Remote interactive services (webcam, chat)",
            ru: "Дистанционные секс-услуги (веб-камера, чат)",
        },
        /// Sexual services for private individuals.
        PrivateSexualServices = "PrivateSexualServices" {
            en: "Private sexual services",
            ru: "Сексуальные услуги частным лицам",
        },
    }
}

// ---------------------------------------------------------------------------------------
// Route
// ---------------------------------------------------------------------------------------

define_vocabulary! {
    /// Kind of an event on the trafficking route (HTCDS historic trafficking event type).
    RouteEventKind = "route_event_kind" {
        /// Where the person was recruited.
        Recruitment = "Recruitment" { en: "Recruitment", ru: "Вербовка" },
        /// A place the person passed through.
        Transit = "Transit" { en: "Transit", ru: "Транзит" },
        /// Where the person was exploited.
        Exploitation = "Exploitation" { en: "Exploitation", ru: "Эксплуатация" },
    }
}

// ---------------------------------------------------------------------------------------
// Case management
// ---------------------------------------------------------------------------------------

define_vocabulary! {
    /// Status of a case (HTCDS v2).
    CaseStatus = "case_status" {
        /// The case is being worked on.
        Active = "Active" { en: "Active", ru: "В работе" },
        /// Support has ended; the person is followed up.
        FollowUp = "FollowUp" { en: "Follow-up", ru: "Последующее сопровождение" },
        /// The case is closed.
        Closed = "Closed" { en: "Closed", ru: "Закрыто" },
        /// The case is closed and was referred to another organisation.
        ClosedReferred = "ClosedReferred" {
            en: "Closed (referred)",
            ru: "Закрыто (передано в другую организацию)",
        },
    }
}

define_vocabulary! {
    /// Why a case was referred to another organisation (HTCDS v2).
    ReferralReason = "referral_reason" {
        /// The person needs services this organisation does not provide.
        AdditionalServicesRequired = "AdditionalServicesRequired" {
            en: "Additional services required",
            ru: "Требуются дополнительные услуги",
        },
        /// The person moved or changed location.
        MigrationOrChangeOfLocation = "MigrationOrChangeOfLocation" {
            en: "Migration or change of location",
            ru: "Переезд или смена места пребывания",
        },
        /// Any other reason.
        Other = "Other" { en: "Other", ru: "Другое" },
    }
}

define_vocabulary! {
    /// Kind of support or service provided or referred for (HTCDS v2 plus regional needs).
    ServiceType = "service_type" {
        /// Education.
        Education = "Education" { en: "Education", ru: "Образование" },
        /// Financial assistance.
        Financial = "Financial" { en: "Financial assistance", ru: "Материальная помощь" },
        /// Medical care.
        Health = "Health" { en: "Health care", ru: "Медицинская помощь" },
        /// Rehabilitation after labour exploitation.
        LabourExploitationRehabilitation = "LabourExploitationRehabilitation" {
            en: "Rehabilitation after labour exploitation",
            ru: "Реабилитация после трудовой эксплуатации",
        },
        /// Legal aid.
        Legal = "Legal" { en: "Legal aid", ru: "Юридическая помощь" },
        /// Help with employment and income.
        Livelihood = "Livelihood" {
            en: "Livelihood support",
            ru: "Помощь с трудоустройством и заработком",
        },
        /// Information and training about the person's rights.
        RightsBasedTraining = "RightsBasedTraining" {
            en: "Rights-based training",
            ru: "Правовое просвещение",
        },
        /// Rehabilitation after sexual exploitation.
        SexualExploitationRehabilitation = "SexualExploitationRehabilitation" {
            en: "Rehabilitation after sexual exploitation",
            ru: "Реабилитация после сексуальной эксплуатации",
        },
        /// Social care.
        SocialCare = "SocialCare" { en: "Social care", ru: "Социальные услуги" },
        /// Shelter (temporary accommodation).
        Shelter = "Shelter" { en: "Shelter", ru: "Приют (временное проживание)" },
        /// Return to the country of origin.
        Repatriation = "Repatriation" {
            en: "Repatriation",
            ru: "Возвращение на родину (репатриация)",
        },
        /// Psychological and psychosocial support.
        Psychosocial = "Psychosocial" {
            en: "Psychosocial support",
            ru: "Психологическая и психосоциальная помощь",
        },
        /// Interpretation and translation.
        Interpretation = "Interpretation" { en: "Interpretation", ru: "Услуги переводчика" },
    }
}

define_vocabulary! {
    /// Type of organisation (HTCDS v2 `org_Type`).
    OrganisationType = "organisation_type" {
        /// Non-governmental organisation.
        Ngo = "NGO" { en: "NGO", ru: "Неправительственная организация (НПО)" },
        /// Police or another law-enforcement body.
        LawEnforcement = "LawEnforcement" {
            en: "Law enforcement",
            ru: "Правоохранительный орган",
        },
        /// Hospital, clinic or other health service.
        HealthServiceOrganisation = "HealthServiceOrganisation" {
            en: "Health service organisation",
            ru: "Медицинская организация",
        },
        /// Ministry or other central government body.
        CentralGovernmentOrganisation = "CentralGovernmentOrganisation" {
            en: "Central government organisation",
            ru: "Центральный государственный орган",
        },
        /// Local government body.
        LocalGovernmentOrganisation = "LocalGovernmentOrganisation" {
            en: "Local government organisation",
            ru: "Местный государственный орган (акимат)",
        },
        /// Migration or immigration service.
        ImmigrationService = "ImmigrationService" {
            en: "Immigration service",
            ru: "Миграционная служба",
        },
        /// Legal aid or other legal service.
        LegalService = "LegalService" { en: "Legal service", ru: "Юридическая служба" },
        /// Company or business.
        CorporateBusiness = "CorporateBusiness" {
            en: "Corporate business",
            ru: "Коммерческая организация",
        },
        /// School or college.
        SchoolOrCollege = "SchoolOrCollege" { en: "School or college", ru: "Школа или колледж" },
        /// International organisation.
        InternationalOrganisation = "InternationalOrganisation" {
            en: "International organisation",
            ru: "Международная организация",
        },
    }
}

define_vocabulary! {
    /// Status of a referral to another organisation.
    ReferralStatus = "referral_status" {
        /// The referral was sent and awaits an answer.
        Requested = "Requested" { en: "Requested", ru: "Направлено" },
        /// The receiving organisation accepted the referral.
        Accepted = "Accepted" { en: "Accepted", ru: "Принято" },
        /// The receiving organisation declined the referral.
        Declined = "Declined" { en: "Declined", ru: "Отклонено" },
        /// The service was provided.
        Completed = "Completed" { en: "Completed", ru: "Выполнено" },
    }
}

// ---------------------------------------------------------------------------------------
// Screening
// ---------------------------------------------------------------------------------------

define_vocabulary! {
    /// Group of trafficking indicators: the action-means model's force, fraud, coercion.
    IndicatorCategory = "indicator_category" {
        /// Use of force.
        Force = "Force" { en: "Force", ru: "Применение силы" },
        /// Deception.
        Fraud = "Fraud" { en: "Fraud", ru: "Обман" },
        /// Coercion.
        Coercion = "Coercion" { en: "Coercion", ru: "Принуждение" },
    }
}

define_vocabulary! {
    /// A trafficking indicator asked about in frontline screening (after the ILO/IOM
    /// operational indicators of trafficking in human beings).
    Indicator = "indicator" {
        /// Force: the person was beaten or otherwise physically harmed.
        PhysicalViolence = "PhysicalViolence" {
            en: "Physical violence",
            ru: "Физическое насилие",
        },
        /// Force: the person suffered sexual violence.
        SexualViolence = "SexualViolence" { en: "Sexual violence", ru: "Сексуальное насилие" },
        /// Force: the person was confined or locked in.
        ConfinedOrLockedIn = "ConfinedOrLockedIn" {
            en: "Confined or locked in",
            ru: "Удержание взаперти",
        },
        /// Force: the person was abducted.
        Abducted = "Abducted" { en: "Abduction", ru: "Похищение" },
        /// Force: the person was watched or guarded all the time.
        UnderConstantSurveillance = "UnderConstantSurveillance" {
            en: "Constant surveillance",
            ru: "Постоянная слежка",
        },
        /// Fraud: the work turned out to be of another kind than promised.
        DeceivedAboutNatureOfWork = "DeceivedAboutNatureOfWork" {
            en: "Deceived about the nature of the work",
            ru: "Обман о характере работы",
        },
        /// Fraud: conditions or pay turned out worse than promised.
        DeceivedAboutConditionsOrPay = "DeceivedAboutConditionsOrPay" {
            en: "Deceived about working conditions or pay",
            ru: "Обман об условиях труда или оплате",
        },
        /// Fraud: the person was taken somewhere other than promised.
        DeceivedAboutDestination = "DeceivedAboutDestination" {
            en: "Deceived about the destination",
            ru: "Обман о стране или месте назначения",
        },
        /// Fraud: false or forged documents were used or provided.
        FalseOrForgedDocuments = "FalseOrForgedDocuments" {
            en: "False or forged documents",
            ru: "Поддельные документы или документы с ложными сведениями",
        },
        /// Fraud: deceptive or illegal fees were charged for recruitment or the journey.
        DeceptiveRecruitmentFees = "DeceptiveRecruitmentFees" {
            en: "Deceptive recruitment fees",
            ru: "Обманные сборы за трудоустройство или дорогу",
        },
        /// Coercion: threats against the person or their family.
        ThreatsAgainstPersonOrFamily = "ThreatsAgainstPersonOrFamily" {
            en: "Threats against the person or family",
            ru: "Угрозы человеку или его семье",
        },
        /// Coercion: passport or other documents were taken away.
        DocumentsWithheld = "DocumentsWithheld" {
            en: "Identity documents withheld",
            ru: "Изъятие документов (паспорта)",
        },
        /// Coercion: a debt was used to force the person to work.
        DebtBondage = "DebtBondage" { en: "Debt bondage", ru: "Долговая кабала" },
        /// Coercion: wages were withheld or not paid.
        WagesWithheld = "WagesWithheld" {
            en: "Wages withheld",
            ru: "Невыплата или удержание заработной платы",
        },
        /// Coercion: threats to report the person to the police or migration authorities.
        ThreatOfDenunciationToAuthorities = "ThreatOfDenunciationToAuthorities" {
            en: "Threat of denunciation to authorities",
            ru: "Угрозы сообщить в полицию или миграционную службу",
        },
        /// Coercion: movement or contact with others was restricted.
        RestrictedMovementOrCommunication = "RestrictedMovementOrCommunication" {
            en: "Restricted movement or communication",
            ru: "Ограничение передвижения или общения",
        },
        /// Coercion: excessively long working hours or days.
        ExcessiveWorkingHours = "ExcessiveWorkingHours" {
            en: "Excessive working hours",
            ru: "Чрезмерно длительный рабочий день",
        },
    }
}

impl Indicator {
    /// The category (force, fraud or coercion) this indicator belongs to; `None` for a
    /// code this version does not know.
    pub fn category(&self) -> Option<IndicatorCategory> {
        match self {
            Indicator::PhysicalViolence
            | Indicator::SexualViolence
            | Indicator::ConfinedOrLockedIn
            | Indicator::Abducted
            | Indicator::UnderConstantSurveillance => Some(IndicatorCategory::Force),
            Indicator::DeceivedAboutNatureOfWork
            | Indicator::DeceivedAboutConditionsOrPay
            | Indicator::DeceivedAboutDestination
            | Indicator::FalseOrForgedDocuments
            | Indicator::DeceptiveRecruitmentFees => Some(IndicatorCategory::Fraud),
            Indicator::ThreatsAgainstPersonOrFamily
            | Indicator::DocumentsWithheld
            | Indicator::DebtBondage
            | Indicator::WagesWithheld
            | Indicator::ThreatOfDenunciationToAuthorities
            | Indicator::RestrictedMovementOrCommunication
            | Indicator::ExcessiveWorkingHours => Some(IndicatorCategory::Coercion),
            Indicator::Unknown(_) => None,
        }
    }
}

define_vocabulary! {
    /// A factor that put the person in a vulnerable situation (after the vulnerable
    /// situation of Kazakhstan's 2024 law on countering human trafficking, plus common
    /// factors).
    Vulnerability = "vulnerability" {
        /// Material or emotional dependence on another person.
        MaterialOrEmotionalDependency = "MaterialOrEmotionalDependency" {
            en: "Material or emotional dependency",
            ru: "Материальная или иная зависимость",
        },
        /// Under 18.
        Minor = "Minor" { en: "Minor", ru: "Несовершеннолетний возраст" },
        /// Old age.
        Elderly = "Elderly" { en: "Old age", ru: "Пожилой возраст" },
        /// Disability.
        Disability = "Disability" { en: "Disability", ru: "Инвалидность" },
        /// Without parental care.
        LackOfParentalCare = "LackOfParentalCare" {
            en: "Lack of parental care",
            ru: "Отсутствие родительского попечения",
        },
        /// Irregular migration status.
        IrregularMigrationStatus = "IrregularMigrationStatus" {
            en: "Irregular migration status",
            ru: "Неурегулированный миграционный статус",
        },
        /// Debt.
        Debt = "Debt" { en: "Debt", ru: "Долги" },
        /// Homelessness.
        Homelessness = "Homelessness" {
            en: "Homelessness",
            ru: "Отсутствие жилья",
        },
        /// Dependence on alcohol or drugs.
        SubstanceDependence = "SubstanceDependence" {
            en: "Alcohol or drug dependence",
            ru: "Зависимость от алкоголя или наркотиков",
        },
    }
}

define_vocabulary! {
    /// The answer to a screening question.
    Answer = "answer" {
        /// Yes.
        Yes = "Yes" { en: "Yes", ru: "Да" },
        /// No.
        No = "No" { en: "No", ru: "Нет" },
        /// The person does not know.
        DontKnow = "DontKnow" { en: "Don't know", ru: "Не знаю" },
        /// The person chose not to answer.
        Declined = "Declined" { en: "Declined to answer", ru: "Отказ от ответа" },
    }
}

define_vocabulary! {
    /// Outcome of a screening interview.
    ScreeningOutcome = "screening_outcome" {
        /// Indicators point to a possible victim of trafficking: refer for identification.
        PotentialVictim = "PotentialVictim" {
            en: "Potential victim of trafficking",
            ru: "Возможная жертва торговли людьми",
        },
        /// No clear indicators, but the person is at risk of trafficking.
        AtRisk = "AtRisk" { en: "At risk", ru: "В группе риска" },
        /// No indicators of trafficking were found.
        NoIndicators = "NoIndicators" {
            en: "No indicators",
            ru: "Признаки торговли людьми не выявлены",
        },
    }
}

// ---------------------------------------------------------------------------------------
// Records
// ---------------------------------------------------------------------------------------

define_vocabulary! {
    /// Why a record was erased.
    ErasureReason = "erasure_reason" {
        /// The retention period ended.
        RetentionExpired = "RetentionExpired" {
            en: "Retention period expired",
            ru: "Истёк срок хранения",
        },
        /// The person asked for their record to be erased.
        PersonRequested = "PersonRequested" {
            en: "Requested by the person",
            ru: "По просьбе самого человека",
        },
        /// The record was created by mistake.
        EnteredInError = "EnteredInError" { en: "Entered in error", ru: "Внесено по ошибке" },
        /// Any other reason.
        Other = "Other" { en: "Other", ru: "Другое" },
    }
}

/// Every vocabulary table, for apps that build forms and label lookups.
pub fn all_vocabularies() -> Vec<VocabularyTable> {
    fn table<V: Vocabulary>() -> VocabularyTable {
        VocabularyTable {
            id: V::ID,
            entries: V::entries(),
        }
    }
    vec![
        table::<Gender>(),
        table::<AgeBand>(),
        table::<MajorityStatus>(),
        table::<TraffickingStatus>(),
        table::<DecisionOrganisation>(),
        table::<RelationshipToTrafficker>(),
        table::<RecruiterRelation>(),
        table::<RecruitmentMethod>(),
        table::<RecruitmentApp>(),
        table::<MeansOfControl>(),
        table::<ExploitationType>(),
        table::<LabourIndustry>(),
        table::<SexualExploitationType>(),
        table::<RouteEventKind>(),
        table::<CaseStatus>(),
        table::<ReferralReason>(),
        table::<ServiceType>(),
        table::<OrganisationType>(),
        table::<ReferralStatus>(),
        table::<IndicatorCategory>(),
        table::<Indicator>(),
        table::<Vulnerability>(),
        table::<Answer>(),
        table::<ScreeningOutcome>(),
        table::<ErasureReason>(),
        super::countries::table(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::Lang;

    #[test]
    fn code_counts() {
        let counts: Vec<(&str, usize)> = all_vocabularies()
            .iter()
            .map(|v| (v.id, v.entries.len()))
            .collect();
        let expected = [
            ("gender", 6),
            ("age_band", 9),
            ("majority_status", 2),
            ("trafficking_status", 3),
            ("decision_organisation", 5),
            ("relationship_to_trafficker", 3),
            ("recruiter_relation", 4),
            ("recruitment_method", 10),
            ("recruitment_app", 15),
            ("means_of_control", 18),
            ("exploitation_type", 12),
            ("labour_industry", 22),
            ("sexual_exploitation_type", 4),
            ("route_event_kind", 3),
            ("case_status", 4),
            ("referral_reason", 3),
            ("service_type", 13),
            ("organisation_type", 10),
            ("referral_status", 4),
            ("indicator_category", 3),
            ("indicator", 17),
            ("vulnerability", 9),
            ("answer", 4),
            ("screening_outcome", 3),
            ("erasure_reason", 4),
            ("country", 249),
        ];
        assert_eq!(counts, expected);
    }

    #[test]
    fn vocabulary_ids_are_unique_and_found() {
        let all = all_vocabularies();
        let mut ids: Vec<&str> = all.iter().map(|v| v.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), all.len());
        for id in ids {
            assert!(crate::vocab::vocabulary(id).is_some(), "{id}");
        }
    }

    #[test]
    fn all_matches_entries() {
        fn check<V: Vocabulary + std::fmt::Debug>(all: &[V]) {
            assert_eq!(all.len(), V::entries().len(), "{}", V::ID);
            for (v, e) in all.iter().zip(V::entries()) {
                assert_eq!(v.code(), e.code);
                assert!(v.is_known());
                assert_eq!(&V::from_code(e.code), v);
            }
        }
        check(Gender::ALL);
        check(AgeBand::ALL);
        check(LabourIndustry::ALL);
        check(Indicator::ALL);
        check(Answer::ALL);
        check(RecruitmentApp::ALL);
    }

    #[test]
    fn age_band_minor() {
        assert_eq!(AgeBand::Age0To8.is_minor(), Some(true));
        assert_eq!(AgeBand::Age9To17.is_minor(), Some(true));
        for band in &AgeBand::ALL[2..] {
            assert_eq!(band.is_minor(), Some(false), "{band}");
        }
        assert_eq!(AgeBand::from_code("17-18").is_minor(), None);
        assert_eq!(AgeBand::from_code("48+"), AgeBand::Age48Plus);
        assert_eq!(AgeBand::Age21To23.label(Lang::Ru), Some("21–23 года"));
    }

    #[test]
    fn every_indicator_has_a_category_and_each_category_has_enough() {
        for ind in Indicator::ALL {
            assert!(ind.category().is_some(), "{ind}");
        }
        assert_eq!(Indicator::from_code("Telepathy").category(), None);
        for cat in IndicatorCategory::ALL {
            let n = Indicator::ALL
                .iter()
                .filter(|i| i.category().as_ref() == Some(cat))
                .count();
            assert!((5..=7).contains(&n), "{cat}: {n} indicators");
        }
    }

    #[test]
    fn labour_industry_maps_to_ctdc_list() {
        const CTDC: &[&str] = &[
            "Agriculture",
            "Aquafarming",
            "Begging",
            "Construction",
            "DomesticWork",
            "Hospitality",
            "IllicitActivities",
            "Manufacturing",
            "MiningOrDrilling",
            "Peddling",
            "Transportation",
            "Other",
        ];
        for li in LabourIndustry::ALL {
            assert!(CTDC.contains(&li.ctdc_type_of_labour()), "{li}");
        }
        assert_eq!(
            LabourIndustry::AgricultureForestryAndFishing.ctdc_type_of_labour(),
            "Agriculture"
        );
        assert_eq!(
            LabourIndustry::ActivitiesOfHouseholdsAsEmployers.ctdc_type_of_labour(),
            "DomesticWork"
        );
        assert_eq!(LabourIndustry::Construction.code(), "F_Construction");
        assert_eq!(
            LabourIndustry::from_code("V_Space").ctdc_type_of_labour(),
            "Other"
        );
        // Every ISIC section code starts with its letter, A to U in order.
        for (li, letter) in LabourIndustry::ALL.iter().zip('A'..='U') {
            assert!(li.code().starts_with(&format!("{letter}_")), "{li}");
        }
    }

    #[test]
    fn special_codes() {
        assert_eq!(RecruitmentApp::from_code("4Sale"), RecruitmentApp::FourSale);
        assert_eq!(
            DecisionOrganisation::from_code("NGO"),
            DecisionOrganisation::Ngo
        );
        assert_eq!(OrganisationType::from_code("NGO"), OrganisationType::Ngo);
        assert_eq!(Answer::parse_known("DontKnow").ok(), Some(Answer::DontKnow));
        assert!(Answer::parse_known("Unknown").is_err());
        assert_eq!(Gender::Feminine.label(Lang::Ru), Some("Женский"));
    }
}
