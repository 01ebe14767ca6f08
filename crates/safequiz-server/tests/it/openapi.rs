//! The OpenAPI document against the route table: every route of `http/routes.rs` has an
//! operation with a summary, no operation names a route that does not exist, every error
//! response is the JSON envelope, and the docs page loads nothing from elsewhere.
//!
//! The route table is read from the source with `syn` (the route builder cannot be asked for
//! its routes), so a route added to `routes.rs` without a `#[utoipa::path]` in
//! `http::openapi::ApiDoc` fails here.

use std::collections::BTreeSet;

use safequiz_server::http::error::ApiError;
use safequiz_testapp::{TestApp, repo_root};
use serde_json::Value;
use syn::visit::Visit;
use syn::{Attribute, Expr, ExprCall, ExprMethodCall, Lit};

/// `(METHOD, /full/path)` of every route `routes.rs` registers.
fn routes_of_the_table() -> BTreeSet<(String, String)> {
    let path = repo_root().join("crates/safequiz-server/src/http/routes.rs");
    let text = std::fs::read_to_string(&path).expect("routes.rs is readable");
    let file = syn::parse_file(&text).expect("routes.rs parses");
    let mut finder = RouteFinder::default();
    finder.visit_file(&file);
    assert!(
        finder.routes.len() > 20,
        "the route table was not found in routes.rs: {:?}",
        finder.routes
    );
    finder.routes
}

#[derive(Default)]
struct RouteFinder {
    routes: BTreeSet<(String, String)>,
}

impl<'ast> Visit<'ast> for RouteFinder {
    fn visit_expr_method_call(&mut self, call: &'ast ExprMethodCall) {
        // The builder chain on the `ServiceConfig`: walked by hand, with its scopes' prefixes.
        if chain_root_is(&call.receiver, "config") {
            collect(&Expr::MethodCall(call.clone()), "", &mut self.routes);
        } else {
            syn::visit::visit_expr_method_call(self, call);
        }
    }
}

/// Whether a method-call chain starts at the variable `name`.
fn chain_root_is(expr: &Expr, name: &str) -> bool {
    match expr {
        Expr::MethodCall(call) => chain_root_is(&call.receiver, name),
        Expr::Path(path) => path.path.is_ident(name),
        _ => false,
    }
}

/// The call a method-call chain starts with (`web::scope("/x")` of `web::scope("/x").route(..)`).
fn chain_root_call(expr: &Expr) -> Option<&ExprCall> {
    match expr {
        Expr::MethodCall(call) => chain_root_call(&call.receiver),
        Expr::Call(call) => Some(call),
        _ => None,
    }
}

/// The last segment of a called function's path (`scope` of `web::scope`).
fn function_name(call: &ExprCall) -> Option<String> {
    match &*call.func {
        Expr::Path(path) => path.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    }
}

fn string_literal(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Lit(lit) => match &lit.lit {
            Lit::Str(text) => Some(text.value()),
            _ => None,
        },
        _ => None,
    }
}

/// The HTTP method of a route builder (`web::get().to(..)` is `GET`).
fn method_of(expr: &Expr) -> Option<String> {
    let root = chain_root_call(expr)?;
    let name = function_name(root)?;
    ["get", "post", "put", "delete", "patch", "head"]
        .contains(&name.as_str())
        .then(|| name.to_uppercase())
}

/// Drops a pattern's regex (`{id:\d+}` is `{id}`), as OpenAPI spells a path.
fn openapi_path(pattern: &str) -> String {
    let mut path = String::new();
    let mut in_regex = false;
    for c in pattern.chars() {
        match c {
            ':' if path.rfind('{') > path.rfind('}') => in_regex = true,
            '}' => {
                in_regex = false;
                path.push(c);
            }
            _ if in_regex => {}
            _ => path.push(c),
        }
    }
    path
}

/// The routes of one chain (`config....`, `web::scope(..)....`, `web::resource(..)....`) under
/// `prefix`.
fn collect(expr: &Expr, prefix: &str, routes: &mut BTreeSet<(String, String)>) {
    let Expr::MethodCall(call) = expr else {
        return;
    };
    collect(&call.receiver, prefix, routes);
    let args: Vec<&Expr> = call.args.iter().collect();
    match (call.method.to_string().as_str(), args.as_slice()) {
        ("route", [path, route]) => {
            if let (Some(path), Some(method)) = (string_literal(path), method_of(route)) {
                routes.insert((method, openapi_path(&format!("{prefix}{path}"))));
            }
        }
        // `web::resource("/p").route(web::get().to(..))`: the resource's own path.
        ("route", [route]) => {
            if let Some(method) = method_of(route) {
                routes.insert((method, openapi_path(prefix)));
            }
        }
        ("service", [service]) => {
            let root = chain_root_call(service);
            let kind = root.and_then(function_name);
            let path = root
                .and_then(|root| root.args.first())
                .and_then(string_literal);
            if let (Some("scope" | "resource"), Some(path)) = (kind.as_deref(), path) {
                collect(service, &format!("{prefix}{path}"), routes);
            }
            // `hot("/scope/prefix", "/path", Method::PUT, handler)`: a route named by its whole
            // pattern, whose prefix argument must be the scope's own.
            if let (Some("hot"), Some(root)) = (kind.as_deref(), root) {
                let args: Vec<&Expr> = root.args.iter().collect();
                let [named, path, method, _] = args.as_slice() else {
                    panic!("hot(prefix, path, method, handler) takes four arguments");
                };
                let (Some(named), Some(path)) = (string_literal(named), string_literal(path))
                else {
                    panic!("hot's prefix and path are string literals");
                };
                assert_eq!(
                    named, prefix,
                    "hot's prefix is its scope's, so its name is its pattern"
                );
                let Expr::Path(method) = method else {
                    panic!("hot's method is a `Method::X` constant");
                };
                let method = method
                    .path
                    .segments
                    .last()
                    .expect("a path")
                    .ident
                    .to_string();
                routes.insert((method, openapi_path(&format!("{prefix}{path}"))));
            }
        }
        _ => {}
    }
}

/// The reader finds routes in nested scopes and resources, with their methods, and so a route
/// added anywhere in the table reaches the comparison below.
#[test]
fn the_route_reader_walks_scopes_resources_and_regex_patterns() {
    let source = r#"
        fn configure(config: &mut web::ServiceConfig) {
            config
                .app_data(web::JsonConfig::default())
                .service(
                    web::scope("/api/v1")
                        .route("/a", web::get().to(a))
                        .service(web::scope("/b").route("/{id:\\d+}", web::put().to(b)))
                        .service(web::resource("/c").route(web::post().to(c)))
                        .service(web::scope("/e").service(hot("/api/v1/e", "/{f}", Method::PUT, e))),
                )
                .route("/d", web::delete().to(d))
                .default_service(web::to(not_found));
        }
    "#;
    let mut finder = RouteFinder::default();
    finder.visit_file(&syn::parse_file(source).expect("the snippet parses"));
    let expected: BTreeSet<(String, String)> = [
        ("GET", "/api/v1/a"),
        ("PUT", "/api/v1/b/{id}"),
        ("POST", "/api/v1/c"),
        ("PUT", "/api/v1/e/{f}"),
        ("DELETE", "/d"),
    ]
    .into_iter()
    .map(|(method, path)| (method.to_owned(), path.to_owned()))
    .collect();
    assert_eq!(finder.routes, expected);
}

const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

async fn document(app: &TestApp) -> Value {
    let response = app.get("/api/v1/openapi.json").await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .is_ok_and(|t| t.starts_with("application/json")),
        "{:?}",
        response.headers()
    );
    response.json().await.expect("the document is JSON")
}

/// `(METHOD, path)` of every operation of the document.
fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
    let mut operations = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            if let Some(operation) = item.get(method) {
                operations.push((method.to_uppercase(), path.clone(), operation));
            }
        }
    }
    operations
}

#[tokio::test]
async fn every_route_has_an_operation_with_a_summary_and_no_operation_is_made_up() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    assert_eq!(doc["openapi"], "3.1.0");

    let routes = routes_of_the_table();
    let documented: BTreeSet<(String, String)> = operations(&doc)
        .into_iter()
        .map(|(method, path, _)| (method, path))
        .collect();
    let undocumented: Vec<_> = routes.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "routes without an operation in http::openapi (give the handler a #[utoipa::path] \
         and list it in ApiDoc): {undocumented:?}"
    );
    let made_up: Vec<_> = documented.difference(&routes).collect();
    assert!(
        made_up.is_empty(),
        "operations naming no route of routes.rs: {made_up:?}"
    );
    for (method, path, operation) in operations(&doc) {
        let summary = operation["summary"].as_str().unwrap_or("");
        assert!(
            summary.trim().len() >= 10,
            "{method} {path} has no summary: {operation}"
        );
        assert!(
            operation["tags"].as_array().is_some_and(|t| !t.is_empty()),
            "{method} {path} has no tag"
        );
        assert!(
            operation["responses"]
                .as_object()
                .is_some_and(|r| r.keys().any(|status| status.starts_with('2'))),
            "{method} {path} documents no success"
        );
        // An optional body may be left out; no reader takes JSON `null` for one.
        for content in operation["requestBody"]["content"]
            .as_object()
            .into_iter()
            .flat_map(|c| c.values())
        {
            let branches = content["schema"]["oneOf"].as_array();
            assert!(
                !branches.is_some_and(|b| b.iter().any(|s| s["type"] == "null")),
                "{method} {path}: a body documented as possibly null: {content}"
            );
        }
    }
}

#[tokio::test]
async fn every_error_response_is_the_json_envelope_with_every_code() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;

    let envelope = &doc["components"]["schemas"]["ErrorBody"];
    let required: BTreeSet<&str> = envelope["required"]
        .as_array()
        .expect("required fields")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(required, BTreeSet::from(["error", "message"]), "{envelope}");
    for field in ["request_id", "next_attempt_at", "rows"] {
        assert!(
            envelope["properties"].get(field).is_some(),
            "{field}: {envelope}"
        );
    }
    let codes: BTreeSet<&str> = envelope["properties"]["error"]["enum"]
        .as_array()
        .expect("the codes are listed")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(codes, BTreeSet::from(ApiError::CODES));

    let mut errors = 0;
    for (method, path, operation) in operations(&doc) {
        for (status, response) in operation["responses"].as_object().expect("responses") {
            if status.as_str() < "400" {
                continue;
            }
            errors += 1;
            let content = response["content"].as_object();
            assert_eq!(
                content.map(|c| c.keys().cloned().collect::<Vec<_>>()),
                Some(vec!["application/json".to_owned()]),
                "{method} {path} {status}"
            );
            assert_eq!(
                response["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/ErrorBody",
                "{method} {path} {status}"
            );
        }
        let documentation = ["/api/v1/openapi.json", "/api/v1/docs"].contains(&path.as_str());
        if path.starts_with("/api/v1/") && !documentation {
            assert!(
                operation["responses"].get("503").is_some(),
                "{method} {path}: every API operation may answer 503 not_ready"
            );
        }
    }
    assert!(errors > 50, "only {errors} error responses documented");
}

#[tokio::test]
async fn credentials_are_declared_where_handlers_require_them() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;

    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["participant"]["scheme"], "bearer");
    assert_eq!(schemes["organizer"]["scheme"], "bearer");
    assert_eq!(schemes["organizer_cookie"]["in"], "cookie");
    assert_eq!(schemes["organizer_cookie"]["name"], "sq_org");

    let security = |method: &str, path: &str| {
        doc["paths"][path][method]["security"]
            .as_array()
            .map(|alternatives| {
                alternatives
                    .iter()
                    .flat_map(|a| a.as_object().into_iter().flat_map(|o| o.keys().cloned()))
                    .collect::<BTreeSet<String>>()
            })
            .unwrap_or_default()
    };
    assert_eq!(
        security("post", "/api/v1/campaigns/{cid}/attempts"),
        BTreeSet::from(["participant".to_owned()])
    );
    assert_eq!(
        security("get", "/api/v1/organizer/figures"),
        BTreeSet::from(["organizer".to_owned(), "organizer_cookie".to_owned()])
    );
    assert!(security("post", "/api/v1/organizer/login").is_empty());
    assert!(security("post", "/api/v1/campaigns/{cid}/participants").is_empty());
    // Every organizer operation but login needs the session, and every one that does
    // documents the 401 it answers without one.
    for (method, path, operation) in operations(&doc) {
        let needs = security(&method.to_lowercase(), &path);
        if path.starts_with("/api/v1/organizer/") && path != "/api/v1/organizer/login" {
            assert!(needs.contains("organizer"), "{method} {path}");
        }
        if !needs.is_empty() {
            assert!(
                operation["responses"].get("401").is_some(),
                "{method} {path} needs credentials but documents no 401"
            );
        }
        if needs.contains("participant") {
            assert!(
                operation["responses"].get("429").is_some(),
                "{method} {path}: a participant's requests are limited (429 rate_limited)"
            );
        }
    }
}

#[tokio::test]
async fn the_docs_page_renders_the_document_with_nothing_from_elsewhere() {
    let app = TestApp::spawn().await;

    let response = app.get("/api/v1/docs").await;

    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .is_ok_and(|t| t.starts_with("text/html")),
    );
    let policy = response.headers()["content-security-policy"]
        .to_str()
        .expect("a policy")
        .to_owned();
    assert!(policy.contains("default-src 'self'"), "{policy}");
    let page = response.text().await.expect("the page");
    assert!(
        page.contains("fetch(\"openapi.json\""),
        "it reads the document"
    );
    for attribute in [
        "src=\"http",
        "href=\"http",
        "src=\"//",
        "href=\"//",
        "@import",
    ] {
        assert!(
            !page.contains(attribute),
            "the page loads {attribute}… from elsewhere"
        );
    }
}

/// The component name `ToSchema` gives an item: its `#[schema(as = Name)]`, else its own name.
fn schema_name(ident: &syn::Ident, attrs: &[Attribute]) -> Option<String> {
    let derives_schema = attrs.iter().any(|attr| {
        attr.path().is_ident("derive")
            && attr
                .meta
                .require_list()
                .is_ok_and(|list| list.tokens.to_string().contains("ToSchema"))
    });
    if !derives_schema {
        return None;
    }
    let renamed = attrs
        .iter()
        .filter(|attr| attr.path().is_ident("schema"))
        .filter_map(|attr| attr.meta.require_list().ok())
        .find_map(|list| {
            let tokens = list.tokens.to_string();
            let rest = tokens.split("as =").nth(1)?;
            let name = rest.split(',').next()?.trim();
            Some(name.rsplit("::").next()?.trim().to_owned())
        });
    Some(renamed.unwrap_or_else(|| ident.to_string()))
}

#[derive(Default)]
struct SchemaNames {
    names: Vec<String>,
}

impl<'ast> Visit<'ast> for SchemaNames {
    fn visit_item_struct(&mut self, item: &'ast syn::ItemStruct) {
        self.names.extend(schema_name(&item.ident, &item.attrs));
    }

    fn visit_item_enum(&mut self, item: &'ast syn::ItemEnum) {
        self.names.extend(schema_name(&item.ident, &item.attrs));
    }
}

fn rust_files(dir: &std::path::Path, files: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a readable folder") {
        let path = entry.expect("a folder entry").path();
        if path.is_dir() {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

/// utoipa keys components by name: two wire types of one name would silently share one schema
/// (the document once described the public board's rows with the organizer's participant rows).
#[test]
fn no_two_wire_types_share_a_schema_name() {
    let mut files = Vec::new();
    rust_files(&repo_root().join("crates/safequiz-server/src"), &mut files);
    let mut finder = SchemaNames::default();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("a readable source file");
        let parsed = syn::parse_file(&text).expect("a source file parses");
        finder.visit_file(&parsed);
    }
    assert!(finder.names.len() > 30, "{:?}", finder.names);
    let mut seen = BTreeSet::new();
    let twice: Vec<&String> = finder
        .names
        .iter()
        .filter(|name| !seen.insert(name.as_str()))
        .collect();
    assert!(
        twice.is_empty(),
        "ToSchema names used twice (rename one with #[schema(as = Name)]): {twice:?}"
    );
}
