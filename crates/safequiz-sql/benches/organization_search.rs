//! Organization search on 100,000 organizations (issue 18; docs/design.md §7.3): seeds a fresh
//! SQLite file and a fresh PostgreSQL database with synthetic organizations, then times each
//! kind of search the public API makes (a page of at most 21 rows) and prints the median and
//! the 95th percentile of 50 runs. Run: `cargo bench -p safequiz-sql --bench organization_search`
//! (`ORG_SEARCH_COUNT` changes the number of organizations).

use std::time::{Duration, Instant};

use safequiz_domain::organization::initials;
use safequiz_sql::Store;
use safequiz_sql::organizations::{OrganizationQuery, SeedOrganization};
use safequiz_testkit::{Database, fresh_store};

const CAMPAIGN: &str = "bench";

/// Synthetic names: a place, a body of water or a project, and a kind of unit, with a number
/// where needed to keep names apart within a region.
fn seed(count: usize) -> Vec<SeedOrganization> {
    const PLACES: &[&str] = &[
        "长治市",
        "上党区",
        "太原市",
        "小店区",
        "晋城市",
        "阳泉市",
        "大同市",
        "朔州市",
        "忻州市",
        "吕梁市",
        "晋中市",
        "临汾市",
        "运城市",
        "黄河",
        "汾河",
        "漳河",
        "沁河",
        "桑干河",
        "滹沱河",
        "郑州市",
        "洛阳市",
        "开封市",
        "南阳市",
        "信阳市",
        "武汉市",
        "宜昌市",
        "襄阳市",
        "长沙市",
        "岳阳市",
        "重庆市",
        "成都市",
        "绵阳市",
    ];
    const WORKS: &[&str] = &[
        "",
        "第一",
        "第二",
        "东风",
        "红旗",
        "幸福",
        "胜利",
        "前进",
        "团结",
        "光明",
        "北干渠",
        "南干渠",
        "引水",
        "提水",
        "灌区",
        "堤防",
        "水库",
        "水电站",
        "泵站",
    ];
    const KINDS: &[&str] = &[
        "水利局",
        "水务局",
        "水务集团有限公司",
        "水库管理站",
        "灌区管理所",
        "河道管理处",
        "水利工程建设有限公司",
        "水利水电勘测设计院",
        "防汛抗旱服务中心",
        "水土保持站",
        "供水有限公司",
        "水文站",
    ];
    (0..count)
        .map(|i| {
            let name = format!(
                "{}{}{}{}",
                PLACES[i % PLACES.len()],
                WORKS[(i / PLACES.len()) % WORKS.len()],
                KINDS[(i / (PLACES.len() * WORKS.len())) % KINDS.len()],
                i / (PLACES.len() * WORKS.len() * KINDS.len()),
            );
            SeedOrganization {
                credit_code: format!("S{i:017}"),
                initials: initials(&name),
                name,
                region_id: format!("r{}", i % 300),
            }
        })
        .collect()
}

async fn time(store: &Store, text: &str, within: Option<&str>) -> (Duration, Duration, usize) {
    let mut times = Vec::new();
    let mut found = 0;
    for _ in 0..50 {
        let started = Instant::now();
        let rows = store
            .search_organizations(&OrganizationQuery {
                campaign_id: CAMPAIGN,
                text,
                within,
                after: None,
                limit: 21,
            })
            .await
            .expect("a search");
        times.push(started.elapsed());
        found = rows.len();
    }
    times.sort();
    (times[25], times[47], found)
}

#[tokio::main]
async fn main() {
    let count: usize = std::env::var("ORG_SEARCH_COUNT")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let rows = seed(count);
    for database in [Database::Sqlite, Database::Postgres] {
        let (store, _dir) = fresh_store(database).await;
        let started = Instant::now();
        store
            .seed_organizations(CAMPAIGN, &rows)
            .await
            .expect("the seed goes in");
        println!(
            "{database:?}: {count} organizations seeded in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        for (what, text) in [
            ("name substring, many matches", "水库"),
            ("name substring, one region's", "上党区第一水利局"),
            ("name substring, no match (whole scan)", "不存在的单位"),
            ("initials prefix", "czs"),
            ("initials prefix, no match", "zzzz"),
            ("everything, first page", ""),
        ] {
            let (median, p95, found) = time(&store, text, None).await;
            println!(
                "  {what:<40} q={text:<16} rows={found:>2}  median {:>7.2} ms  p95 {:>7.2} ms",
                median.as_secs_f64() * 1e3,
                p95.as_secs_f64() * 1e3
            );
        }
    }
}
