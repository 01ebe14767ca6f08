//! Self-registered organizations (issue 18): registration with the credit code's checks and
//! uniqueness, search, staff and 五进 participants rolled up apart into boards, figures and
//! exports with reconcile clean, principal persons, and administrators by application and
//! approval with their scope.

use reqwest::Method;
use safequiz_domain::scope::Scope;
use safequiz_testapp::{Database, ORG_CAMPAIGN, Participant, TestApp, eventually};
use serde_json::{Value, json};

const API: &str = "/api/v1/organizer";
const COUNTY: &str = "140404";
const OTHER_COUNTY: &str = "140105";
const PROVINCE: &str = "140000";
const HUAWEI: &str = "914403001922038216";
const TENCENT: &str = "9144030071526726XG";
const XIAOMI: &str = "91110108551385082Q";

async fn json_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

async fn register_org(app: &TestApp, name: &str, code: &str, region: &str) -> (u16, Value) {
    register_org_with(app, name, code, region, 20).await
}

async fn register_org_with(
    app: &TestApp,
    name: &str,
    code: &str,
    region: &str,
    staff: i64,
) -> (u16, Value) {
    json_of(
        app.request(
            Method::POST,
            &format!("/api/v1/campaigns/{ORG_CAMPAIGN}/organizations"),
            None,
            Some(&json!({"name": name, "credit_code": code, "region_id": region, "staff": staff})),
        )
        .await,
    )
    .await
}

async fn register_person(app: &TestApp, phone: &str, body: Value) -> (u16, Value) {
    let mut body = body;
    body["name"] = json!("测试者");
    body["phone"] = json!(phone);
    json_of(
        app.request(
            Method::POST,
            &format!("/api/v1/campaigns/{ORG_CAMPAIGN}/participants"),
            None,
            Some(&body),
        )
        .await,
    )
    .await
}

async fn search(app: &TestApp, query: &str) -> Value {
    let (status, body) = app
        .get_json(&format!(
            "/api/v1/campaigns/{ORG_CAMPAIGN}/organizations?{query}"
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

fn names(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| item["name"].as_str().expect("a name").to_owned())
        .collect()
}

#[tokio::test]
async fn organizations_register_with_checked_codes_and_are_found_by_name_or_initials() {
    let app = TestApp::builder().organizations().spawn().await;
    let (status, body) = register_org(&app, "长治市上党区水利局", HUAWEI, COUNTY).await;
    assert_eq!(status, 201, "{body}");
    let unit = body["unit_id"].as_str().expect("a unit id").to_owned();
    assert_eq!(unit, format!("{COUNTY}~{}", body["org_id"]));
    assert_eq!(body["region_path"], json!(["山西省", "长治市", "上党区"]));

    // Each mistake in the code has its own message; nothing is written.
    for (code, message) in [
        ("91440300192203821", "应为18位"),
        ("9144030019220382I6", "第17位“I”"),
        ("91A403001922038216", "行政区划码"),
        ("914403001922038217", "校验位错误"),
    ] {
        let (status, body) = register_org(&app, "上党区水务公司", code, COUNTY).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (422, Some("invalid_credit_code")),
            "{code}: {body}"
        );
        assert!(
            body["message"].as_str().unwrap_or("").contains(message),
            "{code}: {body}"
        );
    }
    // The same code again, even under another name and region: already registered.
    let (status, body) = register_org(&app, "另一个单位", HUAWEI, OTHER_COUNTY).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("already_registered"))
    );
    assert!(
        body["message"].as_str().unwrap_or("").contains("已登记"),
        "{body}"
    );
    // The same name in the same region: refused; in another region: a different organization.
    let (status, body) = register_org(&app, "长治市上党区水利局", TENCENT, COUNTY).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("already_registered"))
    );
    let (status, body) = register_org(&app, "长治市上党区水利局", TENCENT, OTHER_COUNTY).await;
    assert_eq!(status, 201, "{body}");
    // A region must be one of the organizations entry's units.
    let (status, body) = register_org(&app, "某水库管理站", XIAOMI, "999999").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (422, Some("invalid_region"))
    );
    let (status, _) = register_org(&app, "重庆市水利工程公司", XIAOMI, "140400").await;
    assert_eq!(status, 201);

    assert_eq!(
        search(&app, "q=上党区").await["items"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    assert_eq!(
        names(&search(&app, "q=czs").await),
        ["长治市上党区水利局", "长治市上党区水利局"]
    );
    assert_eq!(names(&search(&app, "q=CQS").await), ["重庆市水利工程公司"]);
    assert_eq!(
        names(&search(&app, &format!("q=水利&region={COUNTY}")).await),
        ["长治市上党区水利局"]
    );
    assert_eq!(names(&search(&app, "q=%25").await), Vec::<String>::new());
    let first = search(&app, "q=水利&limit=2").await;
    assert_eq!(first["items"].as_array().map(Vec::len), Some(2));
    let after = first["next"].as_i64().expect("a next page");
    let rest = search(&app, &format!("q=水利&limit=2&after={after}")).await;
    assert_eq!(names(&rest), ["重庆市水利工程公司"]);
    assert_eq!(rest["next"], Value::Null);

    // The pages learn which entry takes organizations from the campaign list.
    let (_, campaigns) = app.get_json("/api/v1/campaigns").await;
    let entries: Vec<(Value, Value)> = campaigns["items"]
        .as_array()
        .expect("campaigns")
        .iter()
        .flat_map(|c| c["entries"].as_array().cloned().unwrap_or_default())
        .map(|e| (e["id"].clone(), e["kind"].clone()))
        .collect();
    assert!(
        entries.contains(&(json!("org"), json!("organizations"))),
        "{entries:?}"
    );
    assert!(
        entries.contains(&(json!("region"), json!("units"))),
        "{entries:?}"
    );

    // The national campaign takes no organizations.
    let (status, _) = app
        .get_json("/api/v1/campaigns/safety-month/organizations?q=水利")
        .await;
    assert_eq!(status, 404);
}

async fn play(app: &TestApp, participant: &Participant, right: usize) -> i64 {
    let (status, attempt) = json_of(
        app.request(
            Method::POST,
            &format!("/api/v1/campaigns/{ORG_CAMPAIGN}/attempts"),
            Some(&participant.token),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{attempt}");
    let id = attempt["attempt_id"].as_str().expect("an id").to_owned();
    let mut answers = serde_json::Map::new();
    for index in 0..right {
        answers.insert(
            index.to_string(),
            json!(app.correct_keys(&attempt["questions"][index])),
        );
    }
    let (status, result) = app
        .submit(participant, &id, Some(&json!({ "answers": answers })))
        .await;
    assert_eq!(status, 200, "{result}");
    result["score"].as_i64().expect("a score")
}

fn participant(body: &Value) -> Participant {
    Participant {
        id: body["participant_id"].as_u64().expect("an id"),
        token: body["token"].as_str().expect("a token").to_owned(),
    }
}

async fn organizer(app: &TestApp, unit: &str, username: &str) -> String {
    let password = safequiz_server::accounts::one_time_password();
    let hash = safequiz_server::accounts::hash_password(&password).expect("a hash");
    app.state
        .store
        .add_organizer(&safequiz_sql::organizers::NewOrganizer {
            campaign_id: ORG_CAMPAIGN,
            scope: &Scope::parse(unit).expect("a scope"),
            username,
            password_hash: &hash,
            created_at_ms: app.clock.now().as_millisecond(),
        })
        .await
        .expect("the account is added");
    settle(app, username, &password).await
}

/// Logs in with the one-time password and replaces it; the session token.
async fn settle(app: &TestApp, username: &str, password: &str) -> String {
    let (status, body) = app.organizer_login(username, password).await;
    assert_eq!(status, 200, "{body}");
    let token = body["token"].as_str().expect("a token").to_owned();
    let (status, body) = json_of(
        app.request(
            Method::PUT,
            &format!("{API}/password"),
            Some(&token),
            Some(&json!({"current_password": password, "new_password": "anquan2026yue"})),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["token"].as_str().expect("a new token").to_owned()
}

async fn get_as(app: &TestApp, token: &str, path: &str) -> (u16, Value) {
    json_of(app.request(Method::GET, path, Some(token), None).await).await
}

#[tokio::test]
async fn staff_and_public_count_for_their_organization_apart_and_reconcile_clean() {
    staff_and_public(Database::Sqlite).await;
}

#[tokio::test]
async fn staff_and_public_count_apart_on_postgres() {
    staff_and_public(Database::Postgres).await;
}

async fn staff_and_public(database: Database) {
    let app = TestApp::builder()
        .organizations()
        .database(database)
        .spawn()
        .await;
    let (_, org) = register_org(&app, "上党区水利局", HUAWEI, COUNTY).await;
    let unit = org["unit_id"].as_str().expect("a unit").to_owned();
    let public = format!("{unit}~public");

    // A region of an organizations entry is no place to register; nor a made-up organization.
    let (status, body) = register_person(&app, "13800000001", json!({"unit_id": COUNTY})).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (422, Some("invalid_unit"))
    );
    let (status, body) = register_person(
        &app,
        "13800000001",
        json!({"unit_id": format!("{COUNTY}~999")}),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (422, Some("invalid_unit"))
    );
    let (status, body) = register_person(
        &app,
        "13800000001",
        json!({"unit_id": unit, "public_kind": "army"}),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (422, Some("invalid_public_kind"))
    );
    let (status, body) = register_person(
        &app,
        "13800000001",
        json!({"unit_id": unit, "principal": true}),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (422, Some("invalid_post"))
    );

    let (status, body) = register_person(
        &app,
        "13800000001",
        json!({"unit_id": unit, "principal": true, "principal_post": "局长"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["unit_id"], unit);
    let chief = participant(&body);
    let (_, body) = register_person(&app, "13800000002", json!({"unit_id": unit})).await;
    let staff = participant(&body);
    let (status, body) = register_person(
        &app,
        "13800000003",
        json!({"unit_id": unit, "public_kind": "village"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["unit_id"], public);
    let villager = participant(&body);

    let chief_points = play(&app, &chief, 3).await;
    let staff_points = play(&app, &staff, 2).await;
    let public_points = play(&app, &villager, 4).await;
    app.boards_caught_up().await;

    // The path runs through the organization; the 五进 participant's through its group.
    let (_, me) = app
        .get_as(&villager, &format!("/api/v1/campaigns/{ORG_CAMPAIGN}/me"))
        .await;
    let ranks: Vec<Value> = me["ranks"].as_array().expect("ranks").clone();
    assert_eq!(ranks.len(), 6, "{me}");
    assert_eq!(ranks[4]["unit_id"], unit);
    assert_eq!(ranks[5]["level"], "public");
    assert_eq!(ranks[5]["rank"], 1);

    // Live totals: the organization counts staff and 五进; its group the 五进 alone.
    let totals = app
        .state
        .hot
        .unit_totals(ORG_CAMPAIGN, app.state.shards, &[&unit, &public, COUNTY])
        .await
        .expect("totals");
    assert_eq!(
        totals[0].points as i64,
        chief_points + staff_points + public_points
    );
    assert_eq!(totals[1].points as i64, public_points);
    assert_eq!(totals[2].points, totals[0].points);

    // The record: the organizations report keeps staff and 五进 apart with the principal.
    let province = organizer(&app, PROVINCE, "shanxi").await;
    let report = format!("{API}/organizations");
    let row = eventually(
        "the record holds the three attempts",
        std::time::Duration::from_secs(20),
        || {
            let app = &app;
            let province = &province;
            let report = &report;
            async move {
                let (status, body) = get_as(app, province, report).await;
                assert_eq!(status, 200, "{body}");
                let row = body["items"][0].clone();
                (row["staff_took_part"] == 2 && row["public_took_part"] == 1).then_some(row)
            }
        },
    )
    .await;
    assert_eq!(row["unit_id"], unit);
    assert_eq!(row["staff_points"], chief_points + staff_points);
    assert_eq!(row["public_points"], public_points);
    assert_eq!(row["principal_post"], "局长");
    assert_eq!(row["principal_took_part"], 1);

    // The unit figures show the 五进 group as its own row under the organization.
    let (status, body) = get_as(&app, &province, &format!("{API}/figures?unit={unit}")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["total"]["points"],
        chief_points + staff_points + public_points
    );
    let children = body["children"].as_array().expect("children");
    assert_eq!(children.len(), 1, "{body}");
    assert_eq!(children[0]["unit_id"], public);
    assert_eq!(children[0]["name"], "上党区水利局（五进）");
    assert_eq!(children[0]["points"], public_points);
    let (status, body) = get_as(&app, &province, &format!("{API}/figures?unit={COUNTY}")).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["children"]
            .as_array()
            .expect("children")
            .iter()
            .any(|child| child["unit_id"] == unit),
        "{body}"
    );
    let export = app
        .request(
            Method::GET,
            &format!("{API}/exports/units.csv?unit={unit}"),
            Some(&province),
            None,
        )
        .await;
    assert_eq!(export.status(), 200);
    let bytes = export.bytes().await.expect("a body");
    let csv = String::from_utf8_lossy(&bytes);
    assert!(csv.contains("上党区水利局（五进）"), "{csv}");

    let campaign = app
        .catalogue
        .campaigns
        .iter()
        .find(|campaign| campaign.id == ORG_CAMPAIGN)
        .expect("the test campaign");
    let differences = safequiz_server::recovery::reconcile(&app.state, campaign)
        .await
        .expect("reconcile");
    assert_eq!(differences, Vec::<String>::new());
}

/// A `multipart/form-data` body with `name`, `phone` and a file of `bytes`.
fn form(name: &str, phone: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let boundary = "safequizBoundary7MA4YWxk";
    let mut body = Vec::new();
    for (field, value) in [("name", name), ("phone", phone)] {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"授权书.png\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

const PNG: &[u8] = &[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13];

async fn apply(app: &TestApp, org_id: i64, phone: &str, bytes: &[u8]) -> (u16, Value) {
    let (content_type, body) = form("王管理", phone, bytes);
    json_of(
        reqwest::Client::new()
            .post(format!(
                "{}/api/v1/campaigns/{ORG_CAMPAIGN}/organizations/{org_id}/admin-applications",
                app.address
            ))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("the service answers"),
    )
    .await
}

#[tokio::test]
async fn an_approved_administrator_sees_their_organization_only() {
    administrator(Database::Sqlite).await;
}

#[tokio::test]
async fn an_approved_administrator_sees_their_organization_only_on_postgres() {
    administrator(Database::Postgres).await;
}

async fn administrator(database: Database) {
    let app = TestApp::builder()
        .organizations()
        .database(database)
        .spawn()
        .await;
    let (_, org) = register_org(&app, "上党区水利局", HUAWEI, COUNTY).await;
    let (_, other) = register_org(&app, "小店区水利局", TENCENT, OTHER_COUNTY).await;
    let org_id = org["org_id"].as_i64().expect("an id");
    let unit = org["unit_id"].as_str().expect("a unit").to_owned();
    let other_unit = other["unit_id"].as_str().expect("a unit").to_owned();
    for (phone, org) in [("13800000011", &unit), ("13800000012", &other_unit)] {
        let (status, body) = register_person(&app, phone, json!({"unit_id": org})).await;
        assert_eq!(status, 201, "{body}");
    }

    // Refusals: the file's bytes decide its type; over 5 MB is too large; a made-up
    // organization is not found.
    let (status, body) = apply(&app, org_id, "13900000001", b"GIF89a....").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (422, Some("invalid_file")),
        "{body}"
    );
    let mut big = PNG.to_vec();
    big.resize(5 * 1024 * 1024 + 1, 0);
    let (status, body) = apply(&app, org_id, "13900000001", &big).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (413, Some("payload_too_large")),
        "{body}"
    );
    let (status, _) = apply(&app, 999_999, "13900000001", PNG).await;
    assert_eq!(status, 404);
    let (status, body) = apply(&app, org_id, "12345", PNG).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (422, Some("invalid_phone"))
    );

    let (status, body) = apply(&app, org_id, "13900000001", PNG).await;
    assert_eq!(status, 201, "{body}");
    let application = body["application_id"].as_i64().expect("an id");
    let (status, body) = apply(&app, org_id, "13900000002", PNG).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("application_exists"))
    );

    // Another county's organizer neither sees nor decides it.
    let neighbour = organizer(&app, OTHER_COUNTY, "xiaodian").await;
    let (status, body) = get_as(&app, &neighbour, &format!("{API}/admin-applications")).await;
    assert_eq!(
        (status, body["items"].as_array().map(Vec::len)),
        (200, Some(0))
    );
    let approval = format!("{API}/admin-applications/{application}/approval");
    let (status, _) = json_of(
        app.request(Method::POST, &approval, Some(&neighbour), None)
            .await,
    )
    .await;
    assert_eq!(status, 403);

    // The province's organizer sees it with its file and approves it.
    let province = organizer(&app, PROVINCE, "shanxi").await;
    let (status, body) = get_as(&app, &province, &format!("{API}/admin-applications")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["items"][0]["application_id"], application);
    assert_eq!(body["items"][0]["org_name"], "上党区水利局");
    assert_eq!(body["items"][0]["phone"], "13900000001");
    let file = app
        .request(
            Method::GET,
            &format!("{API}/admin-applications/{application}/file"),
            Some(&province),
            None,
        )
        .await;
    assert_eq!(file.status(), 200);
    assert_eq!(
        file.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("image/png")
    );
    assert_eq!(&file.bytes().await.expect("bytes")[..], PNG);
    let (status, approved) = json_of(
        app.request(Method::POST, &approval, Some(&province), None)
            .await,
    )
    .await;
    assert_eq!(status, 201, "{approved}");
    assert_eq!(approved["unit_id"], unit);
    let (status, body) = json_of(
        app.request(Method::POST, &approval, Some(&province), None)
            .await,
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (409, Some("not_pending")));

    // The administrator: their organization's people, nothing else.
    let username = approved["username"].as_str().expect("a username");
    let password = approved["one_time_password"].as_str().expect("a password");
    let admin = settle(&app, username, password).await;
    let (status, body) = get_as(&app, &admin, &format!("{API}/progress")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["unit_id"], unit);
    assert_eq!(body["items"], json!([]));
    // Their pages are headed with the organization's name, from the record.
    assert_eq!(body["name"], "上党区水利局", "{body}");
    let (_, me) = get_as(&app, &admin, &format!("{API}/me")).await;
    assert_eq!(me["unit_name"], "上党区水利局", "{me}");
    for forbidden in [
        format!("{API}/figures?unit={other_unit}"),
        format!("{API}/figures?unit={COUNTY}"),
        format!("{API}/participants?unit={PROVINCE}"),
        format!("{API}/progress?unit=*"),
        format!("{API}/exports/participants.csv?unit={other_unit}"),
    ] {
        let (status, body) = get_as(&app, &admin, &forbidden).await;
        assert_eq!(status, 403, "{forbidden}: {body}");
    }
    // Their own organization's application is not theirs to decide.
    let (status, body) = get_as(
        &app,
        &admin,
        &format!("{API}/admin-applications?status=all"),
    )
    .await;
    assert_eq!(
        (status, body["items"].as_array().map(Vec::len)),
        (200, Some(0))
    );
    eventually(
        "the record holds the organization's participant",
        std::time::Duration::from_secs(20),
        || {
            let app = &app;
            let admin = &admin;
            async move {
                let (status, body) = get_as(app, admin, &format!("{API}/participants")).await;
                assert_eq!(status, 200, "{body}");
                (body["total"] == 1).then_some(())
            }
        },
    )
    .await;
    let (_, body) = get_as(&app, &admin, &format!("{API}/participants")).await;
    assert_eq!(body["items"][0]["unit_id"], unit, "{body}");
    let export = app
        .request(
            Method::GET,
            &format!("{API}/exports/participants.csv"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(export.status(), 200);

    // A refusal of a second organization's application, with its reason, and the audit rows.
    let other_id = other["org_id"].as_i64().expect("an id");
    let (_, body) = apply(&app, other_id, "13900000003", b"%PDF-1.7 test").await;
    let refused = body["application_id"].as_i64().expect("an id");
    let refusal = format!("{API}/admin-applications/{refused}/refusal");
    let (status, _) = json_of(
        app.request(
            Method::POST,
            &refusal,
            Some(&province),
            Some(&json!({"reason": ""})),
        )
        .await,
    )
    .await;
    assert_eq!(status, 422);
    let (status, body) = json_of(
        app.request(
            Method::POST,
            &refusal,
            Some(&province),
            Some(&json!({"reason": "授权书未盖章"})),
        )
        .await,
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let (_, body) = get_as(
        &app,
        &province,
        &format!("{API}/admin-applications?status=refused"),
    )
    .await;
    assert_eq!(body["items"][0]["reason"], "授权书未盖章");
    // A refused organization may apply again.
    let (status, _) = apply(&app, other_id, "13900000003", PNG).await;
    assert_eq!(status, 201);

    let trail = app
        .state
        .store
        .audit_page(
            &safequiz_sql::audit::AuditQuery {
                campaign_id: Some(ORG_CAMPAIGN),
                from_ms: 0,
                to_ms: i64::MAX,
            },
            None,
            100,
        )
        .await
        .expect("the trail");
    let actions: Vec<&str> = trail.iter().map(|row| row.action.as_str()).collect();
    for action in ["admin_approve", "admin_refuse", "admin_file"] {
        assert!(actions.contains(&action), "{actions:?}");
    }
}

#[tokio::test]
async fn the_board_of_organizations_ranks_a_region_s_organizations_by_rate_or_average() {
    let app = TestApp::builder().organizations().spawn().await;
    // Staff are declared when registering, 1 to 1,000,000; nothing is written otherwise.
    for wrong in [0, 1_000_001] {
        let (status, body) = register_org_with(&app, "上党区水利局", HUAWEI, COUNTY, wrong).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (422, Some("invalid_staff")),
            "{body}"
        );
    }
    // Two staff of four took part in the first (50%), one of ten in the second (10%) but with a
    // better average; the third, in another county, has no one yet. A 五进 participant counts
    // for neither the rate nor the staff's average.
    let (status, big) = register_org_with(&app, "上党区水利局", HUAWEI, COUNTY, 4).await;
    assert_eq!(status, 201, "the refused ones wrote nothing: {big}");
    let (_, small) = register_org_with(&app, "上党区水务中心", TENCENT, COUNTY, 10).await;
    let (_, far) = register_org_with(&app, "小店区水利局", XIAOMI, OTHER_COUNTY, 7).await;
    let unit = |org: &Value| org["unit_id"].as_str().expect("a unit").to_owned();
    let mut phones = (1..).map(|n| format!("139000000{n:02}"));
    let mut join = async |org: &Value, body: Value| {
        let mut body = body;
        body["unit_id"] = json!(unit(org));
        let (status, answer) = register_person(&app, &phones.next().expect("a phone"), body).await;
        assert_eq!(status, 201, "{answer}");
        participant(&answer)
    };
    let first = join(&big, json!({})).await;
    let second = join(&big, json!({})).await;
    let villager = join(&big, json!({"public_kind": "village"})).await;
    let best = join(&small, json!({})).await;
    let big_points = play(&app, &first, 1).await + play(&app, &second, 2).await;
    play(&app, &villager, 5).await;
    let small_points = play(&app, &best, 4).await;
    assert!(
        small_points > big_points / 2,
        "the small one has the better average"
    );
    app.boards_caught_up().await;

    let board = |query: &'static str| {
        let app = &app;
        async move {
            app.get_json(&format!(
                "/api/v1/campaigns/{ORG_CAMPAIGN}/leaderboards/organizations?{query}"
            ))
            .await
        }
    };
    // A snapshot computed before the writer's pass may be served for one interval: polled.
    let by_rate = eventually(
        "the board counts every attempt",
        std::time::Duration::from_secs(20),
        || async {
            let (status, body) = board("parent=140400").await;
            assert_eq!(status, 200, "{body}");
            (body["items"][0]["staff_participants"] == 2).then_some(body)
        },
    )
    .await;
    assert_eq!(by_rate["sort"], "rate");
    assert_eq!(
        by_rate["organizations"], 2,
        "the city's two, not the other county's"
    );
    let items = by_rate["items"].as_array().expect("items");
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["unit_id"], unit(&big).as_str());
    assert_eq!(items[0]["staff"], 4);
    assert_eq!(items[0]["participation_rate"], 0.5);
    assert_eq!(items[0]["points"], big_points);
    assert_eq!(
        items[0]["public_participants"], 1,
        "the 五进 participant, apart"
    );
    assert_eq!(items[1]["unit_id"], unit(&small).as_str());
    assert_eq!(items[1]["participation_rate"], 0.1);
    assert_eq!(
        (items[0]["rank"].as_u64(), items[1]["rank"].as_u64()),
        (Some(1), Some(2))
    );

    let (status, by_average) = board("parent=140400&sort=avg_points").await;
    assert_eq!(status, 200, "{by_average}");
    let items = by_average["items"].as_array().expect("items");
    assert_eq!(items[0]["unit_id"], unit(&small).as_str());
    assert_eq!(items[0]["avg_points"], small_points as f64);
    assert_eq!(items[1]["avg_points"], big_points as f64 / 2.0);

    // The province holds all three; the entry is the whole campaign, limited here to one.
    let (_, province) = board("parent=140000&sort=participants").await;
    assert_eq!(province["organizations"], 3, "{province}");
    assert_eq!(province["items"][2]["unit_id"], unit(&far).as_str());
    assert_eq!(province["items"][2]["participation_rate"], 0.0);
    let (status, entry) = board("parent=org&limit=1").await;
    assert_eq!(status, 200, "{entry}");
    assert_eq!(
        (
            entry["organizations"].as_u64(),
            entry["items"].as_array().map(Vec::len)
        ),
        (Some(3), Some(1))
    );

    // The same board on the live stream's query; then the refusals.
    let (status, _) = board("parent=140000&sort=rate&limit=0").await;
    assert_eq!(status, 400, "a limit of 0");
    let (status, _) = board("parent=140400&sort=attempts").await;
    assert_eq!(status, 400, "no such sort for organizations");
    // The live stream takes the same query and refuses the same way, before any stream.
    for (query, expected) in [
        ("board=organizations&parent=140400&sort=attempts", 400),
        ("board=organizations&sort=rate", 400),
        ("board=units&parent=region&sort=rate", 400),
        ("board=organizations&parent=nowhere", 404),
    ] {
        let (status, body) = app
            .get_json(&format!(
                "/api/v1/campaigns/{ORG_CAMPAIGN}/leaderboards/stream?{query}"
            ))
            .await;
        assert_eq!(status, expected, "{query}: {body}");
        assert!(body["error"].is_string(), "{query}: a JSON error: {body}");
    }
    let (status, _) = board("parent=nowhere").await;
    assert_eq!(status, 404, "no such region");
    let (status, _) = app
        .get_json("/api/v1/campaigns/safety-month/leaderboards/organizations?parent=region")
        .await;
    assert_eq!(status, 404, "a campaign without organizations");
}
