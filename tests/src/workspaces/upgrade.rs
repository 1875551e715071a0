//! The upgrade to workspaces: a database at the previous release (every migration before
//! "workspaces") with rows of two people in every tenant table, migrated, keeps every row,
//! each in its maker's personal workspace, which exists with them as its owner; and a
//! person acting in it sees exactly their rows.

use std::collections::{BTreeMap, HashMap};

use sqlx::{PgPool, Row};
use uuid::Uuid;

use crate::helpers::{drop_database, migrated_before};

/// Every table whose rows belong to a tenant, parents before their children.
const TENANT_TABLES: [&str; 38] = [
    "jobs",
    "ai_generations",
    "ai_suggestions",
    "ai_usage",
    "api_keys",
    "cards",
    "calendars",
    "calendar_runs",
    "calendar_entries",
    "calendar_run_entries",
    "calendar_changes",
    "calendar_feeds",
    "platform_accounts",
    "oauth_states",
    "brand_profiles",
    "brand_accounts",
    "organic_trends",
    "creative_assets",
    "organic_runs",
    "organic_run_items",
    "organic_placements",
    "organic_week_drafts",
    "themes",
    "theme_schedules",
    "syntheses",
    "synthesis_items",
    "email_deliveries",
    "email_suppressions",
    "media",
    "evergreen_collections",
    "publish_intents",
    "publish_spool_replays",
    "post_metric_reads",
    "post_metrics",
    "webhook_endpoints",
    "webhook_deliveries",
    "webhook_attempts",
    "idempotency_keys",
];

#[tokio::test]
async fn every_row_of_the_previous_release_stays_in_its_makers_personal_workspace() {
    let (name, db) = migrated_before("workspaces").await;
    let people = [Uuid::now_v7(), Uuid::now_v7()];
    for person in people {
        populate(&db, person).await;
    }
    let before = counts(&db).await;
    almanac_shared::db::migrate(&db).await.unwrap();
    assert_eq!(counts(&db).await, before, "no row lost or added");
    for table in TENANT_TABLES {
        let (rows, elsewhere): (i64, i64) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "select count(*), count(*) filter (where workspace_id is distinct from user_id)
             from {table}"
        )))
        .fetch_one(&db)
        .await
        .unwrap();
        assert_eq!((table, rows, elsewhere), (table, 2, 0));
    }
    for person in people {
        let (personal, role): (bool, String) = sqlx::query_as(
            "select w.personal, m.role from workspaces w
             join workspace_members m on m.workspace_id = w.id and m.user_id = w.id
             where w.id = $1",
        )
        .bind(person)
        .fetch_one(&db)
        .await
        .unwrap();
        assert_eq!((personal, role.as_str()), (true, "owner"));
        // Acting as them in it, row-level security shows their one row of each table.
        let actor = almanac_shared::workspaces::Actor::personal(person);
        let mut tx = almanac_shared::store::user_tx(&db, actor).await.unwrap();
        for table in TENANT_TABLES {
            let seen: i64 =
                sqlx::query_scalar(sqlx::AssertSqlSafe(format!("select count(*) from {table}")))
                    .fetch_one(&mut *tx)
                    .await
                    .unwrap();
            assert_eq!((table, seen), (table, 1));
        }
        tx.rollback().await.unwrap();
    }
    db.close().await;
    drop_database(&name).await;
}

async fn counts(db: &PgPool) -> BTreeMap<&'static str, i64> {
    let mut counts = BTreeMap::new();
    for table in TENANT_TABLES {
        let n: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("select count(*) from {table}")))
                .fetch_one(db)
                .await
                .unwrap();
        counts.insert(table, n);
    }
    counts
}

/// Nullable columns a check wants set: table, column, type, value.
const TOGETHER: &[(&str, &str, &str, &str)] = &[("theme_schedules", "time_utc", "text", "08:00")];

/// A column to fill: its name, its type as SQL spells it, and the table and column its
/// value comes from when it is a foreign key.
struct Column {
    name: String,
    ty: String,
    parent: Option<(String, String)>,
    nullable: bool,
}

/// One row of `person`'s in every tenant table, each child under the parent just made:
/// every column without a default that takes no null gets a value its checks accept.
async fn populate(db: &PgPool, person: Uuid) {
    // The platforms' registry, as the API fills it when it starts.
    sqlx::query(
        "insert into platforms (name, label) values ('tiktok', 'TikTok') on conflict do nothing",
    )
    .execute(db)
    .await
    .unwrap();
    let mut made: HashMap<String, HashMap<String, String>> = HashMap::new();
    for table in TENANT_TABLES {
        // A foreign key that may be null and names nothing made yet (the table itself, a
        // row reused) stays null.
        let columns: Vec<Column> = required_columns(db, table)
            .await
            .into_iter()
            .filter(|c| !c.nullable || c.parent.as_ref().is_none_or(|(p, _)| made.contains_key(p)))
            .collect();
        let checks: Vec<String> = sqlx::query_scalar(
            "select pg_get_constraintdef(oid) from pg_constraint
             where conrelid = $1::regclass and contype = 'c'",
        )
        .bind(table)
        .fetch_all(db)
        .await
        .unwrap();
        let mut row = HashMap::new();
        for column in &columns {
            let value = match &column.parent {
                Some((parent, key)) => match made.get(parent).and_then(|r| r.get(key)) {
                    Some(value) => value.clone(),
                    // A parent no tenant owns (the platforms' registry): a row it has.
                    None => existing(db, parent, key).await,
                },
                None => value_of(table, column, &checks, person),
            };
            row.insert(column.name.clone(), value);
        }
        // Columns that may be null alone but not together (a schedule's time).
        let mut columns = columns;
        for (of, name, ty, value) in TOGETHER {
            if *of == table {
                columns.push(Column {
                    name: (*name).into(),
                    ty: (*ty).into(),
                    parent: None,
                    nullable: true,
                });
                row.insert((*name).into(), (*value).into());
            }
        }
        let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
        let casts: Vec<String> = columns
            .iter()
            .enumerate()
            .map(|(n, c)| format!("${}::{}", n + 1, c.ty))
            .collect();
        let sql = format!(
            "insert into {table} ({}) values ({}) returning row_to_json({table}.*)::text",
            names.join(", "),
            casts.join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for column in &columns {
            query = query.bind(row[&column.name].clone());
        }
        let inserted: String = query
            .fetch_one(db)
            .await
            .unwrap_or_else(|e| panic!("{table}: {e}"))
            .get(0);
        let inserted: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&inserted).unwrap();
        let kept = inserted
            .into_iter()
            .map(|(k, v)| {
                let text = match v {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                (k, text)
            })
            .collect();
        made.insert(table.to_owned(), kept);
    }
}

/// A value of `parent.key` the database holds already.
async fn existing(db: &PgPool, parent: &str, key: &str) -> String {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "select {key}::text from {parent} order by 1 limit 1"
    )))
    .fetch_optional(db)
    .await
    .unwrap()
    .unwrap_or_else(|| panic!("no {parent} to refer to"))
}

/// The columns a row of `table` must be given, with their foreign keys.
async fn required_columns(db: &PgPool, table: &str) -> Vec<Column> {
    let rows = sqlx::query(
        "select a.attname::text, format_type(a.atttypid, a.atttypmod), not a.attnotnull,
                (select cf.relname::text || '.' || af.attname::text
                 from pg_constraint k
                 cross join lateral unnest(k.conkey, k.confkey) as u(src, dst)
                 join pg_class cf on cf.oid = k.confrelid
                 join pg_attribute af on af.attrelid = k.confrelid and af.attnum = u.dst
                 where k.conrelid = a.attrelid and k.contype = 'f' and u.src = a.attnum
                 limit 1)
         from pg_attribute a
         left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
         where a.attrelid = $1::regclass and a.attnum > 0 and not a.attisdropped
           and a.attgenerated = '' and a.attidentity = ''
           and (a.attnotnull and d.oid is null
                or exists (select 1 from pg_constraint k
                           where k.conrelid = a.attrelid and k.contype = 'f'
                             and a.attnum = any(k.conkey)))
         order by a.attnum",
    )
    .bind(table)
    .fetch_all(db)
    .await
    .unwrap();
    rows.into_iter()
        .map(|row| {
            let parent: Option<String> = row.get(3);
            Column {
                name: row.get(0),
                ty: row.get(1),
                nullable: row.get(2),
                parent: parent.and_then(|p| {
                    let (t, c) = p.split_once('.')?;
                    Some((t.to_owned(), c.to_owned()))
                }),
            }
        })
        .collect()
}

/// A value of `column` that `table`'s checks accept: the first word a check allows, else
/// one by the column's type and name.
fn value_of(table: &str, column: &Column, checks: &[String], person: Uuid) -> String {
    let name = column.name.as_str();
    if name == "user_id" {
        return person.to_string();
    }
    let allowed = regex::Regex::new(&format!(
        r"\(?{name}\)?(::text)? = ANY \(\(?ARRAY\['([^']*)'"
    ))
    .unwrap();
    if let Some(word) = checks.iter().find_map(|c| allowed.captures(c)) {
        return word[2].to_owned();
    }
    let unique = Uuid::now_v7().simple().to_string();
    // What a column's own check asks beyond its type.
    match name {
        "source_text" => return "A source text long enough for its check. ".repeat(30),
        "scopes" => return "{read}".into(),
        "platform" => return "tiktok".into(),
        "window_start" => return "08:00".into(),
        "window_end" => return "20:00".into(),
        "events" => return "{job.failed}".into(),
        "channel_ids" | "entry_ids" => return format!("{{{}}}", Uuid::now_v7()),
        _ => {}
    }
    match column.ty.as_str() {
        "uuid" => Uuid::now_v7().to_string(),
        "jsonb" | "json" => "{}".into(),
        "boolean" => "false".into(),
        "bytea" => format!("\\x{unique}{unique}"),
        "date" => "2030-01-07".into(),
        "time without time zone" => "09:00".into(),
        t if t.starts_with("timestamp") => "2030-01-07T09:00:00Z".into(),
        t if t.ends_with("[]") => "{}".into(),
        "integer" | "bigint" | "smallint" | "numeric" | "double precision" | "real" => "1".into(),
        t if t.starts_with("numeric") => "1".into(),
        _ => match name {
            n if n.contains("email") || n == "recipient" || n == "address" => {
                format!("probe-{}@example.com", &unique[24..])
            }
            "url" => "https://hooks.example.com/in".into(),
            n if n.contains("timezone") => "UTC".into(),
            "language" => "en".into(),
            "digest" | "token_digest" | "source_hash" | "request_hash" | "key" => unique,
            "state" => format!("state-{unique}"),
            "prefix" => "alm_abcdefgh".into(),
            "week_start" => "2030-01-07".into(),
            _ => format!("probe_{table}_{}", &unique[24..]),
        },
    }
}
