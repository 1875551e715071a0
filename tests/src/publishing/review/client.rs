//! Client review (`docs/review.md`, "Client review"): a review link shows its entries and
//! nothing else to someone without an account, takes their comments and, where allowed,
//! their decision as the step's guest decision; an expired, revoked or forged link is 404,
//! no answer sets a cookie, and each link is limited in requests.

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use super::Team;

/// A guest's decision on `entry` at `version`, as Anna of Acme.
fn decide(entry: Uuid, decision: &str, version: i64) -> Value {
    json!({ "entryId": entry, "decision": decision, "name": "Anna (Acme)",
            "contentVersion": version, "comment": "Lovely" })
}

/// A policy whose first step is the client's (guests) and second the owner's.
fn client_then_owner() -> Value {
    json!({ "mode": "always", "steps": [
        { "name": "Client", "approvers": { "guests": ["anna@client.example"] } },
        { "name": "Owner", "approvers": { "roles": ["owner"] } },
    ] })
}

/// A guest's request: no credentials, no cookie, no header but the body's.
struct Guest {
    client: reqwest::Client,
    base: String,
}

impl Guest {
    fn new(team: &Team) -> Self {
        Self {
            client: reqwest::Client::new(),
            base: team.s.app.url(""),
        }
    }

    /// `method /review/{token}{rest}`: the whole response.
    async fn send(
        &self,
        method: Method,
        token: &str,
        rest: &str,
        body: Option<&Value>,
    ) -> reqwest::Response {
        let url = format!("{}/review/{token}{rest}", self.base.trim_end_matches('/'));
        let mut request = self.client.request(method, url);
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.expect("request sent")
    }

    /// The same, as status and JSON, checking what every guest answer carries.
    async fn call(
        &self,
        method: Method,
        token: &str,
        rest: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let response = self.send(method, token, rest, body).await;
        private(&response);
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

/// Sends no referrer, is kept by no cache and sets no cookie.
fn private(response: &reqwest::Response) {
    let headers = response.headers();
    assert_eq!(headers["referrer-policy"], "no-referrer", "{headers:?}");
    assert_eq!(headers["cache-control"], "no-store", "{headers:?}");
    assert!(headers.get("set-cookie").is_none(), "{headers:?}");
}

/// Makes a link as `name`: its data, and its token (read from the URL shown once).
async fn link(team: &Team, name: &str, body: Value) -> (Value, String) {
    let path = format!("/v1/calendars/{}/review-links", team.calendar);
    let (status, made) = team.call(name, Method::POST, &path, Some(&body)).await;
    assert_eq!(status, 201, "{made}");
    let url = made["data"]["url"].as_str().expect("the URL is shown once");
    let token = url.rsplit_once("/review/").unwrap().1.to_owned();
    (made["data"].clone(), token)
}

#[tokio::test]
async fn a_link_shows_its_entries_only_and_its_guest_decides_as_the_step_s_guest() {
    let team = Team::start(&[("writer", "editor"), ("viewer", "viewer")]).await;
    team.policy(client_then_owner()).await;
    let shown = team.entry("Matcha, whisked", "2030-01-07T09:00:00Z").await;
    let hidden = team
        .entry("Not for the client", "2030-01-08T09:00:00Z")
        .await;
    let guest = Guest::new(&team);

    let token = made_by_editors_only(&team, shown).await;
    the_page_shows_its_entry_only(&guest, &token, shown, hidden).await;
    nothing_else_is_decided_or_commented(&team, &guest, &token, shown, hidden).await;
    the_guest_decides_the_client_s_step(&team, &guest, &token, shown).await;
    revoked_expired_and_forged_links_are_404(&team, &guest, &token).await;
}

/// Viewers make no links; an entry of another calendar is refused by name; an editor's
/// link is listed without its address, kept as its digest. Its token.
async fn made_by_editors_only(team: &Team, shown: Uuid) -> String {
    let path = format!("/v1/calendars/{}/review-links", team.calendar);
    let body = json!({ "entryIds": [shown], "canApprove": true, "label": "For Acme" });
    let (status, refused) = team.call("viewer", Method::POST, &path, Some(&body)).await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (403, Some("ROLE_REQUIRED"))
    );
    let stranger = Uuid::now_v7();
    let foreign = json!({ "entryIds": [shown, stranger] });
    let (status, refused) = team
        .call("writer", Method::POST, &path, Some(&foreign))
        .await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["error"]["details"]["field"], "entryIds");
    let (made, token) = link(team, "writer", body).await;
    assert_eq!(made["entryIds"], json!([shown]));
    assert_eq!(
        (made["status"].as_str(), made["canApprove"].as_bool()),
        (Some("active"), Some(true))
    );
    let (status, listed) = team.call("viewer", Method::GET, &path, None).await;
    assert_eq!(status, 200, "{listed}");
    let items = listed["data"]["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["url"], Value::Null, "the address is shown once");
    let stored: Vec<u8> = sqlx::query_scalar("select digest from review_links where id = $1")
        .bind(made["id"].as_str().unwrap().parse::<Uuid>().unwrap())
        .fetch_one(&team.s.app.db)
        .await
        .unwrap();
    assert_ne!(stored, token.as_bytes(), "only the token's digest is kept");

    token
}

/// The page and the entries: no sign-in, no cookie, only the link's entry.
async fn the_page_shows_its_entry_only(guest: &Guest, token: &str, shown: Uuid, hidden: Uuid) {
    let page = guest.send(Method::GET, token, "", None).await;
    private(&page);
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'self'")
    );
    assert!(page.text().await.unwrap().contains("/app/js/guest.js"));
    let (status, view) = guest.call(Method::GET, token, "/entries", None).await;
    assert_eq!(status, 200, "{view}");
    let view = &view["data"];
    assert_eq!(
        (view["calendarName"].as_str(), view["label"].as_str()),
        (Some("Launch"), Some("For Acme"))
    );
    let entries = view["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{view}");
    assert_eq!(entries[0]["id"], shown.to_string());
    assert_eq!(entries[0]["caption"], "Matcha, whisked");
    assert!(!view.to_string().contains(&hidden.to_string()));
    assert_eq!(entries[0]["review"]["status"], "not_requested");
    assert_eq!(entries[0]["review"]["youMayDecide"], false);
}

/// Nothing to decide before review is asked; an entry the link does not show (another of
/// its calendar's, another calendar's, nobody's) is 404.
async fn nothing_else_is_decided_or_commented(
    team: &Team,
    guest: &Guest,
    token: &str,
    shown: Uuid,
    hidden: Uuid,
) {
    let (status, refused) = guest
        .call(
            Method::POST,
            token,
            "/decisions",
            Some(&decide(shown, "approve", 1)),
        )
        .await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (409, Some("REVIEW_NOT_IN_PROGRESS"))
    );
    // An entry of another calendar of the same workspace, by its real id.
    let other = Uuid::now_v7();
    sqlx::query(
        "with k as (insert into calendars (id, user_id, workspace_id, name, request, current_version)
                    values ($1, $2, $3, 'Other', '{}', 1))
         insert into calendar_entries (id, calendar_id, user_id, workspace_id, key, channel,
             local_date, local_time, scheduled_at, title, caption, format, origin)
         values ($4, $1, $2, $3, 'manual/other', 'tiktok', '2030-01-07', '10:00',
             '2030-01-07 09:00Z', 'Other', 'Elsewhere', 'short video', 'manual')",
    )
    .bind(Uuid::now_v7())
    .bind(team.s.user)
    .bind(team.workspace)
    .bind(other)
    .execute(&team.s.app.db)
    .await
    .unwrap();
    for entry in [hidden, Uuid::now_v7(), other] {
        let (status, _) = guest
            .call(
                Method::POST,
                token,
                "/decisions",
                Some(&decide(entry, "approve", 1)),
            )
            .await;
        assert_eq!(status, 404);
        let comment = json!({ "entryId": entry, "name": "Anna", "text": "Hello?" });
        let (status, _) = guest
            .call(Method::POST, token, "/comments", Some(&comment))
            .await;
        assert_eq!(status, 404);
    }
}

/// The guest approves step 1 (the client's): it lands in the history and asks step 2,
/// which is not the guests'; the owner approves it, the guest's approval in the provenance.
async fn the_guest_decides_the_client_s_step(team: &Team, guest: &Guest, token: &str, shown: Uuid) {
    let (status, asked) = team.ask("writer", shown).await;
    assert_eq!(status, 200, "{asked}");
    let (status, stale) = guest
        .call(
            Method::POST,
            token,
            "/decisions",
            Some(&decide(shown, "approve", 7)),
        )
        .await;
    assert_eq!(
        (status, stale["error"]["code"].as_str()),
        (409, Some("REVIEW_VERSION_CHANGED"))
    );
    let (status, decided) = guest
        .call(
            Method::POST,
            token,
            "/decisions",
            Some(&decide(shown, "approve", 1)),
        )
        .await;
    assert_eq!(status, 200, "{decided}");
    assert_eq!(decided["data"]["review"]["status"], "in_review");
    assert_eq!(decided["data"]["review"]["step"], 2);
    assert_eq!(
        decided["data"]["review"]["youMayDecide"], false,
        "step 2 is the owner's"
    );
    let history = decided["data"]["decisions"].as_array().unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(
        (history[0]["by"].as_str(), history[0]["guest"].as_bool()),
        (Some("Anna (Acme)"), Some(true))
    );
    let review = team.read(shown).await["review"].clone();
    assert_eq!(review["step"], 2, "{review}");
    let decisions = review["decisions"].as_array().unwrap();
    assert_eq!(decisions.len(), 1, "{review}");
    assert_eq!(decisions[0]["by"], Value::Null);
    assert_eq!(decisions[0]["guestName"], "Anna (Acme)");
    assert_eq!(decisions[0]["comment"], "Lovely");
    // Step 2 is not the guests': refused, and nothing recorded.
    let (status, refused) = guest
        .call(
            Method::POST,
            token,
            "/decisions",
            Some(&decide(shown, "approve", 1)),
        )
        .await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (403, Some("NOT_AN_APPROVER"))
    );
    // The owner approves step 2: approved, the guest's approval in its provenance.
    let approved = team.approve("owner", shown).await;
    assert_eq!(approved["status"], "approved");
    let provenance = team.read(shown).await["provenance"]["review"].clone();
    let approvals = provenance["approvals"].as_array().unwrap();
    assert_eq!(approvals.len(), 2, "{provenance}");
    assert_eq!(approvals[0]["guestName"], "Anna (Acme)");
    assert_eq!(approvals[1]["by"], team.id("owner").to_string());
}

async fn revoked_expired_and_forged_links_are_404(team: &Team, guest: &Guest, token: &str) {
    let last = if token.ends_with('A') { 'B' } else { 'A' };
    let forged = format!("{}{last}", &token[..42]);
    for bad in [
        forged.as_str(),
        "short",
        "not-a-token-at-all-but-forty-three-chars-lo",
    ] {
        let (status, _) = guest.call(Method::GET, bad, "/entries", None).await;
        assert_eq!(status, 404, "{bad}");
        let page = guest.send(Method::GET, bad, "", None).await;
        assert_eq!(page.status(), 404);
        private(&page);
    }
    let entry = team.entry("Range entry", "2030-01-09T09:00:00Z").await;
    let (range, range_token) = link(
        team,
        "writer",
        json!({ "from": "2030-01-09", "to": "2030-01-10" }),
    )
    .await;
    assert_eq!(
        range["entryIds"],
        json!([entry]),
        "the range's entries when it was made"
    );
    assert_eq!(range["canApprove"], false);
    // An entry added to the range later is not the link's.
    let later = team.entry("Added later", "2030-01-10T09:00:00Z").await;
    let (status, view) = guest
        .call(Method::GET, &range_token, "/entries", None)
        .await;
    assert_eq!(status, 200);
    assert!(!view.to_string().contains(&later.to_string()));
    // A link that may not approve says so.
    team.ask("writer", entry).await;
    let body = json!({ "entryId": entry, "decision": "approve", "name": "Bob",
        "contentVersion": 1 });
    let (status, refused) = guest
        .call(Method::POST, &range_token, "/decisions", Some(&body))
        .await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (403, Some("NOT_AN_APPROVER"))
    );
    // Revoked: 404 from then on. Expired: likewise.
    let path = format!(
        "/v1/calendars/{}/review-links/{}",
        team.calendar,
        range["id"].as_str().unwrap()
    );
    let (status, _) = team.call("writer", Method::DELETE, &path, None).await;
    assert_eq!(status, 204);
    let (status, _) = guest
        .call(Method::GET, &range_token, "/entries", None)
        .await;
    assert_eq!(status, 404);
    sqlx::query("update review_links set expires_at = now() - interval '1 second' where digest = sha256(convert_to($1, 'UTF8'))")
        .bind(token)
        .execute(&team.s.app.db)
        .await
        .unwrap();
    let (status, _) = guest.call(Method::GET, token, "/entries", None).await;
    assert_eq!(status, 404);
    let (status, listed) = team
        .call(
            "writer",
            Method::GET,
            &format!("/v1/calendars/{}/review-links", team.calendar),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let statuses: Vec<&str> = listed["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["revoked", "expired"]);
}

#[tokio::test]
async fn a_guest_s_words_are_kept_as_text_and_each_link_is_limited() {
    let team = Team::start_with(
        &[("writer", "editor")],
        [("REVIEW_LINK_RATE_LIMIT", "12".into())],
    )
    .await;
    let entry = team.entry("Matcha, whisked", "2030-01-07T09:00:00Z").await;
    let (_, token) = link(&team, "writer", json!({ "entryIds": [entry] })).await;
    let guest = Guest::new(&team);
    let markup = "<img src=x onerror=alert(1)>";
    let body = json!({ "entryId": entry, "name": format!("  {markup}  "),
        "text": format!("<script>alert(1)</script> & {markup}") });
    let (status, comment) = guest
        .call(Method::POST, &token, "/comments", Some(&body))
        .await;
    assert_eq!(status, 201, "{comment}");
    assert_eq!(comment["data"]["by"], markup);
    assert_eq!(
        comment["data"]["text"],
        format!("<script>alert(1)</script> & {markup}")
    );
    // A name with a line break is refused by name.
    let bad = json!({ "entryId": entry, "name": "Anna\nBob", "text": "Hi" });
    let (status, refused) = guest
        .call(Method::POST, &token, "/comments", Some(&bad))
        .await;
    assert_eq!(
        (status, refused["error"]["details"]["field"].as_str()),
        (400, Some("name"))
    );
    // The team reads it as the guest wrote it.
    let path = format!("/v1/calendars/{}/entries/{entry}/comments", team.calendar);
    let (status, listed) = team.call("writer", Method::GET, &path, None).await;
    assert_eq!(status, 200, "{listed}");
    let items = listed["data"]["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(
        (items[0]["guestName"].as_str(), items[0]["by"].clone()),
        (Some(markup), Value::Null)
    );
    // Twelve requests a window: two made (the refused one counts), ten more pass, the next
    // is 429.
    for _ in 0..10 {
        let (status, _) = guest.call(Method::GET, &token, "/entries", None).await;
        assert_eq!(status, 200);
    }
    let refused = guest.send(Method::GET, &token, "/entries", None).await;
    private(&refused);
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    // Another link of the same calendar has its own allowance.
    let (_, other) = link(&team, "writer", json!({ "entryIds": [entry] })).await;
    let (status, _) = guest.call(Method::GET, &other, "/entries", None).await;
    assert_eq!(status, 200);
}
