//! `cityloop bench search`: fills a store with generated cases (copies of one real report
//! with their own number, phone, category, road, street, community, grid, unit, state,
//! times and a Chinese description made from the category names and the demo district's
//! road names), indexed by the product's own `search_index_in`, then times searches
//! through the service (`Services::search_cases`: checks, scope, the store's query,
//! privacy shaping) — case number (whole and last 4 digits), phone tail, a two-character
//! word, filtered lists — with p50/p99 over many different inputs, beside a plain
//! `LIKE '%…%'` scan of the case view in the same run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use chrono::Utc;
use cityloop_domain::calendar::{StageClock, TimeMode};
use cityloop_domain::case::Case;
use cityloop_domain::ids::{CaseId, CaseNumber};
use cityloop_domain::model::{Actor, ActorRole, Role, Source};
use cityloop_domain::workflow::CaseState;
use cityloop_service::cases::ReportInput;
use cityloop_service::search::SearchRequest;
use cityloop_service::Services;
use cityloop_store::Store;

/// Different inputs per kind of search (p99 needs at least 100).
const SAMPLES: usize = 200;
/// Runs of the plain LIKE scan per kind (it reads the whole table).
const SCAN_SAMPLES: usize = 5;
/// Cases written per transaction while filling.
const BATCH: usize = 5_000;

/// Words the descriptions are made of besides the category names (two-character words a
/// dispatcher types: 井盖, 占道 come from the category names).
const PHRASES: &[&str] = &[
    "市民反映",
    "严重影响通行",
    "已持续多日",
    "请尽快处理",
    "存在安全隐患",
    "夜间尤为明显",
    "多次投诉",
    "现场巡查发现",
    "靠近公交站",
    "学校门口",
];

/// The two-character words timed (each is in some descriptions).
const WORDS: &[&str] = &[
    "井盖", "占道", "垃圾", "破损", "路灯", "广告", "绿地", "积水", "隐患", "投诉",
];

/// A small deterministic generator (xorshift), so two runs build the same data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Runs on a new SQLite file (default: in a temporary folder) and, when given, a
/// PostgreSQL URL naming an empty scratch database.
pub async fn run(
    sqlite: Option<std::path::PathBuf>,
    pg: Option<String>,
    cases: usize,
    skip_sqlite: bool,
) -> Result<()> {
    if cases == 0 {
        bail!("--cases must be positive");
    }
    let tmp = tempfile::tempdir()?;
    if !skip_sqlite {
        let path = sqlite.unwrap_or_else(|| tmp.path().join("search.db"));
        if path.exists() {
            bail!("{} exists; name a new file", path.display());
        }
        let s = cityloop_store::SqliteStore::open(&path, true).await?;
        one(Arc::new(s), cases).await?;
    }
    if let Some(url) = pg {
        let p = cityloop_store::PgStore::connect(&url).await?;
        one(Arc::new(p), cases).await?;
    }
    Ok(())
}

struct World {
    categories: Vec<(cityloop_domain::model::CategoryCode, String)>,
    roads: Vec<(String, String)>,
    streets: Vec<String>,
    communities: Vec<String>,
    grids: Vec<String>,
    units: Vec<cityloop_domain::ids::UnitId>,
}

async fn one(store: Arc<dyn Store>, n: usize) -> Result<()> {
    cityloop_service::demo::load_demo(&store).await?;
    let svc = Services::load(store.clone()).await?;
    let staff = Actor {
        person_id: None,
        role: ActorRole::Staff(Role::Dispatcher),
        unit_id: None,
    };
    let cats = svc.categories().await?;
    let mut categories: Vec<_> = cats
        .values()
        .filter(|c| c.active)
        .map(|c| (c.code.clone(), c.name_zh.clone()))
        .collect();
    categories.sort();
    let geo = svc
        .territory
        .clone()
        .ok_or_else(|| anyhow::anyhow!("the demo district has no territory"))?;
    let world = World {
        categories,
        roads: geo
            .objects("segment")
            .map(|(id, name)| {
                let road = name.rsplit_once(" (").map_or(name, |(r, _)| r);
                (id.to_owned(), road.to_owned())
            })
            .filter(|(_, r)| !r.is_empty())
            .collect(),
        streets: geo.objects("street").map(|(id, _)| id.to_owned()).collect(),
        communities: geo
            .objects("community")
            .map(|(id, _)| id.to_owned())
            .collect(),
        grids: geo.objects("grid").map(|(id, _)| id.to_owned()).collect(),
        units: svc.cached().units.iter().map(|u| u.id).collect(),
    };
    if world.roads.is_empty() || world.streets.is_empty() {
        bail!("the demo district has no roads or streets");
    }
    // One real report is the template of every generated case.
    let template = svc
        .report_case(
            &Actor {
                role: ActorRole::Staff(Role::Operator),
                ..staff.clone()
            },
            ReportInput {
                source: Source::Hotline12345,
                priority: cityloop_domain::model::Priority::Normal,
                category: world.categories[0].0.clone(),
                area_grade: None,
                description: "bench".into(),
                lon: 113.6401,
                lat: 34.7466,
                address: Some("二七区".into()),
                reporter: cityloop_domain::case::Contact::default(),
                media: vec![],
                external_ref: None,
            },
        )
        .await?;
    let now = Utc::now();
    let started = Instant::now();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let states = CaseState::ALL;
    let sources = [
        Source::Hotline12345,
        Source::Inspector,
        Source::Public,
        Source::RoadChief,
    ];
    let span_s = 365 * 24 * 3600_i64;
    let mut batch = Vec::with_capacity(BATCH);
    let mut phones = Vec::new();
    let mut numbers = Vec::new();
    for i in 0..n {
        let created = now - chrono::Duration::seconds(span_s - (i as i64 * span_s / n as i64));
        let (cat, cat_name) = &world.categories[rng.below(world.categories.len())];
        let (seg, road) = &world.roads[rng.below(world.roads.len())];
        let state = states[rng.below(states.len())];
        let mut c: Case = template.clone();
        c.id = CaseId::new_v7();
        c.number = CaseNumber::with_prefix(
            &format!("410103-{}", created.format("%Y%m%d")),
            i as i64 + 1,
        );
        c.state = state;
        c.source = sources[rng.below(sources.len())];
        c.category = cat.clone();
        c.description = format!(
            "{road}{}{cat_name}，{}，{}",
            ["附近", "路口", "沿线", "东侧", "西段"][rng.below(5)],
            PHRASES[rng.below(PHRASES.len())],
            PHRASES[rng.below(PHRASES.len())]
        );
        c.location.address = Some(format!("二七区{road}{}号", 1 + rng.below(300)));
        c.routing.road_name = Some(road.clone());
        c.routing.segment_id = Some(seg.clone());
        c.routing.street_code = Some(world.streets[rng.below(world.streets.len())].clone());
        c.routing.community_code =
            Some(world.communities[rng.below(world.communities.len())].clone());
        c.routing.grid_code = Some(world.grids[rng.below(world.grids.len())].clone());
        c.unit_id = Some(world.units[rng.below(world.units.len())]);
        c.reporter.phone = (i % 3 == 0).then(|| format!("13{:09}", rng.next() % 1_000_000_000));
        c.external_ref = (c.source == Source::Hotline12345).then(|| format!("ZZ{:010}", i));
        c.created_at = created;
        c.updated_at = created;
        c.clock = (!state.is_terminal())
            .then(|| StageClock::start(TimeMode::Working, created, chrono::Duration::hours(16)));
        let deadline = c.deadline(&svc.calendar());
        if i % (n / SAMPLES).max(1) == 0 {
            if let Some(p) = &c.reporter.phone {
                phones.push(p.clone());
            }
            numbers.push(c.number.as_str().to_owned());
        }
        batch.push((c, deadline));
        if batch.len() == BATCH {
            store.bench_insert_cases(&batch).await?;
            batch.clear();
        }
    }
    if !batch.is_empty() {
        store.bench_insert_cases(&batch).await?;
    }
    store.bench_analyze().await?;
    let took = started.elapsed();
    println!(
        "\ncityloop bench search on {:?}: {n} cases generated and indexed in {:.0} s ({:.0} cases/s); {SAMPLES} different inputs per search",
        store.backend(),
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64()
    );
    let mut rng = Rng(42);
    let pick = |v: &[String], rng: &mut Rng| v[rng.below(v.len())].clone();
    type Make<'a> = Box<dyn FnMut(&mut Rng) -> SearchRequest + 'a>;
    let kinds: Vec<(&str, Make)> = vec![
        (
            "case number, whole",
            Box::new(|r: &mut Rng| SearchRequest {
                number: Some(pick(&numbers, r)),
                ..Default::default()
            }),
        ),
        (
            "case number, last 4 digits",
            Box::new(|r: &mut Rng| {
                let n = pick(&numbers, r);
                SearchRequest {
                    number: Some(n[n.len() - 4..].to_owned()),
                    ..Default::default()
                }
            }),
        ),
        (
            "phone, last 4 digits",
            Box::new(|r: &mut Rng| {
                let p = pick(&phones, r);
                SearchRequest {
                    phone: Some(p[p.len() - 4..].to_owned()),
                    ..Default::default()
                }
            }),
        ),
        (
            "phone, whole",
            Box::new(|r: &mut Rng| SearchRequest {
                phone: Some(pick(&phones, r)),
                ..Default::default()
            }),
        ),
        (
            "two-character word (井盖, 占道, …)",
            Box::new(|r: &mut Rng| SearchRequest {
                q: Some(WORDS[r.below(WORDS.len())].into()),
                ..Default::default()
            }),
        ),
        (
            "road name + word (e.g. 大学路 井盖)",
            Box::new(|r: &mut Rng| {
                let road = &world.roads[r.below(world.roads.len())].1;
                SearchRequest {
                    q: Some(format!("{road} {}", WORDS[r.below(WORDS.len())])),
                    ..Default::default()
                }
            }),
        ),
        (
            "filter: street + state",
            Box::new(|r: &mut Rng| SearchRequest {
                street: Some(pick(&world.streets, r)),
                state: Some(
                    CaseState::ALL[r.below(CaseState::ALL.len())]
                        .as_str()
                        .into(),
                ),
                ..Default::default()
            }),
        ),
        (
            "filter: grid, sorted by deadline",
            Box::new(|r: &mut Rng| SearchRequest {
                grid: Some(pick(&world.grids, r)),
                sort: Some("deadline".into()),
                ..Default::default()
            }),
        ),
        (
            "filter: unit + overdue, longest overdue first",
            Box::new(|r: &mut Rng| SearchRequest {
                unit: Some(world.units[r.below(world.units.len())].to_string()),
                sort: Some("overdue".into()),
                ..Default::default()
            }),
        ),
        (
            "filter: word + street + last 30 days",
            Box::new(|r: &mut Rng| SearchRequest {
                q: Some(WORDS[r.below(WORDS.len())].into()),
                street: Some(pick(&world.streets, r)),
                created_from: Some(now - chrono::Duration::days(30)),
                ..Default::default()
            }),
        ),
    ];
    println!(
        "  {:<48} {:>9} {:>9} {:>9} {:>7}",
        "search (through the service)", "p50 ms", "p99 ms", "max ms", "rows"
    );
    for (label, mut make) in kinds {
        let mut times = Vec::with_capacity(SAMPLES);
        let mut rows = 0usize;
        for _ in 0..SAMPLES {
            let req = make(&mut rng);
            let t = Instant::now();
            let page = svc.search_cases(&staff, &req).await?;
            times.push(t.elapsed());
            rows += page.cases.len();
        }
        times.sort_unstable();
        println!(
            "  {label:<48} {:>9.2} {:>9.2} {:>9.2} {:>7.1}",
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.99)),
            ms(times[times.len() - 1]),
            rows as f64 / SAMPLES as f64
        );
    }
    println!(
        "  {:<48} {:>9} {:>9} {:>9} {:>7}",
        "plain LIKE '%…%' scan of the view, 50 rows", "p50 ms", "p99 ms", "max ms", "rows"
    );
    type Needle<'a> = Box<dyn FnMut(&mut Rng) -> String + 'a>;
    let scans: Vec<(&str, Needle)> = vec![
        (
            "LIKE: two-character word",
            Box::new(|r: &mut Rng| WORDS[r.below(WORDS.len())].to_owned()),
        ),
        (
            "LIKE: phone, last 4 digits",
            Box::new(|r: &mut Rng| {
                let p = pick(&phones, r);
                p[p.len() - 4..].to_owned()
            }),
        ),
        (
            "LIKE: case number, whole",
            Box::new(|r: &mut Rng| pick(&numbers, r)),
        ),
    ];
    for (label, mut make) in scans {
        let mut times = Vec::new();
        let mut rows = 0usize;
        for _ in 0..SCAN_SAMPLES {
            let needle = make(&mut rng);
            let t = Instant::now();
            rows += store.bench_like_scan(&needle, 50).await?;
            times.push(t.elapsed());
        }
        times.sort_unstable();
        println!(
            "  {label:<48} {:>9.2} {:>9.2} {:>9.2} {:>7.1}",
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.99)),
            ms(times[times.len() - 1]),
            rows as f64 / SCAN_SAMPLES as f64
        );
    }
    Ok(())
}
