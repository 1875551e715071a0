//! The synthesis job (seed 004): fetch the theme's sources (a failing source is recorded
//! and skipped), ask the AI for sections, and save the synthesis with its ISO week. A
//! scheduled run also marks its schedule run for the day and creates one email delivery
//! (and job) per recipient, in the same transaction.

use almanac_shared::store::jobs::Claim;
use std::collections::HashSet;

use almanac_shared::{
    ai::Usage,
    domain::synthesis::{
        self, Document, DocumentKind, EmailJob, Section, Source, SourceKind, Synthesis,
        SynthesisJob,
    },
    events::Event,
    jobs::{JobPayload as _, Lane, NewJob},
    queue,
    store::themes::{self, SynthesisEnd},
};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    ai_error,
    answer::{ItemReader, Next, Stop, account},
};
use crate::job::{Context, End, Finished, Job, JobContext, JobError, JobResult};

mod write;

use write::{Written, write};

impl Job for SynthesisJob {
    type Input = Input;

    /// The synthesis becomes `running`; its theme comes back.
    const START: &'static str = themes::START;

    const MISSING: &'static str = "SYNTHESIS_MISSING";

    async fn run(self, ctx: &JobContext, claim: &Claim, input: Input) -> JobResult {
        let synthesizer = Synthesizer {
            ctx,
            claim,
            id: self.synthesis_id,
            input,
        };
        synthesizer.run().await
    }
}

/// Sources fetched at once.
const FETCH_CONCURRENCY: usize = 4;

#[derive(Deserialize)]
pub struct Input {
    theme_id: Uuid,
    schedule_id: Option<Uuid>,
    scheduled_for: Option<DateTime<Utc>>,
    theme_name: Option<String>,
    theme_description: Option<String>,
    sources: Option<Vec<Source>>,
    /// Sections an earlier attempt saved.
    saved_sections: Option<Vec<Section>>,
}

/// One synthesis's attempt, as named steps: read the sources, have the AI write, save.
struct Synthesizer<'a> {
    ctx: &'a JobContext,
    claim: &'a Claim,
    id: Uuid,
    input: Input,
}

impl Synthesizer<'_> {
    async fn run(self) -> JobResult {
        let Some(theme_name) = self.input.theme_name.clone() else {
            return Err(JobError::permanent(
                "THEME_MISSING",
                "the theme was deleted",
            ));
        };
        let (documents, report) = self.read_sources().await?;
        // A scheduled digest leaves out what its schedule already sent; with nothing new it
        // writes nothing (no AI call) and says so.
        let fresh = match self.input.schedule_id {
            Some(schedule_id) => self.leave_out_sent(schedule_id, documents).await?,
            None => synthesis::Fresh {
                news: documents.len(),
                documents,
                left_out: 0,
            },
        };
        if fresh.news == 0 && fresh.left_out > 0 {
            let nothing_new = Written::nothing_new(&theme_name);
            return self.save(&nothing_new, &report, &fresh).await;
        }
        self.emit(Event::step(
            "writing",
            "asking the AI for the synthesis",
            65,
        ))
        .await;
        let theme = json!({ "name": theme_name, "description": self.input.theme_description });
        let saved = self.input.saved_sections.clone().unwrap_or_default();
        let written = write(
            self.ctx,
            self.claim,
            self.id,
            &theme,
            &fresh.documents,
            saved,
        )
        .await?;
        let Some(written) = written else {
            return Ok(None);
        };
        self.emit(Event::step("saving", "saving the synthesis", 90))
            .await;
        self.save(&written, &report, &fresh).await
    }

    /// The documents the schedule's emailed digests did not carry yet.
    async fn leave_out_sent(
        &self,
        schedule_id: Uuid,
        documents: Vec<Document>,
    ) -> Result<synthesis::Fresh, JobError> {
        let keys: Vec<synthesis::ItemKeys> =
            documents.iter().filter_map(synthesis::item_keys).collect();
        let sent = themes::sent_keys(&self.ctx.pool, schedule_id, &keys)
            .await
            .context("reading the items already sent")?;
        let fresh = synthesis::leave_out_sent(documents, &sent);
        if fresh.left_out > 0 {
            self.emit(Event::step(
                "fetching",
                format!("{} items already sent left out", fresh.left_out),
                62,
            ))
            .await;
        }
        Ok(fresh)
    }

    async fn emit(&self, event: Event) {
        self.ctx.emitter.emit_or_log(self.claim.id, &event).await;
    }

    /// Reads every source, a few at once, reporting each as it is read: the documents in
    /// the sources' order, and what each source gave. Refused when none could be read.
    async fn read_sources(&self) -> Result<(Vec<Document>, Vec<Value>), JobError> {
        let ctx = self.ctx;
        let sources = self.input.sources.clone().unwrap_or_default();
        let total = sources.len();
        self.emit(Event::step(
            "fetching",
            format!("reading {total} sources"),
            5,
        ))
        .await;
        let mut fetched = futures::stream::iter(sources.into_iter().enumerate())
            .map(
                |(index, source)| async move { (index, source.clone(), fetch(ctx, &source).await) },
            )
            .buffer_unordered(FETCH_CONCURRENCY);
        let mut documents: Vec<(usize, Vec<Document>)> = Vec::new();
        let mut report: Vec<(usize, Value)> = Vec::new();
        let mut done = 0;
        while let Some((index, source, outcome)) = fetched.next().await {
            done += 1;
            let entry = match outcome {
                Ok(docs) => {
                    let entry = json!({ "type": source.kind, "value": source.value, "status": "ok", "items": docs.len() });
                    documents.push((index, docs));
                    entry
                }
                Err(error) => {
                    tracing::info!(source = %source.value, error = %error, "source skipped");
                    json!({ "type": source.kind, "value": source.value, "status": "failed", "error": error })
                }
            };
            report.push((index, entry));
            self.emit(Event::step(
                "fetching",
                format!("read {done} of {total} sources"),
                5 + (55 * done / total.max(1)) as u8,
            ))
            .await;
        }
        drop(fetched);
        documents.sort_by_key(|(index, _)| *index);
        report.sort_by_key(|(index, _)| *index);
        let documents: Vec<Document> = documents.into_iter().flat_map(|(_, d)| d).collect();
        let report: Vec<Value> = report.into_iter().map(|(_, r)| r).collect();
        if documents.is_empty() {
            return Err(JobError::permanent(
                "NO_SOURCE_READABLE",
                "none of the theme's sources could be read",
            )
            .with("sources", report));
        }
        Ok((documents, report))
    }

    /// In one transaction: the synthesis saved, a scheduled run's day marked with an email
    /// job per recipient, and the job ended; then the emails queued.
    async fn save(
        &self,
        written: &Written,
        report: &[Value],
        fresh: &synthesis::Fresh,
    ) -> JobResult {
        let (ctx, claim, input) = (self.ctx, self.claim, &self.input);
        let content = &written.synthesis;
        let day = input.scheduled_for.unwrap_or_else(Utc::now).date_naive();
        let week = synthesis::iso_week(day);
        let result = json!({ "synthesis_id": self.id, "theme_id": input.theme_id, "week": week, "sections": content.sections.len() });
        let mut tx = ctx
            .pool
            .begin()
            .await
            .context("opening the final transaction")?;
        let written_down = SynthesisEnd {
            week: &week,
            synthesis: content,
            sources_report: report,
            provider: written.provider.as_deref(),
            model: written.model.as_deref(),
            usage: &written.usage,
            items_left_out: fresh.left_out,
        };
        let saved = themes::save_synthesis(&mut *tx, self.id, written_down)
            .await
            .context("saving the synthesis")?;
        if !saved {
            return Err(JobError::permanent(
                "SYNTHESIS_MISSING",
                "the synthesis was deleted",
            ));
        }
        // The items it carries, unless there was nothing new to carry.
        let items: Vec<(&str, synthesis::ItemKeys)> = if written.is_nothing_new() {
            Vec::new()
        } else {
            fresh
                .documents
                .iter()
                .filter_map(|d| synthesis::item_keys(d).map(|keys| (d.title.as_str(), keys)))
                .collect()
        };
        themes::record_items(&mut tx, self.id, input.schedule_id, &items)
            .await
            .context("recording the synthesis's items")?;
        let emails = match (input.schedule_id, input.scheduled_for) {
            (Some(schedule_id), Some(scheduled_for)) => {
                let run = Run {
                    claim,
                    synthesis_id: self.id,
                    schedule_id,
                    scheduled_for,
                    nothing_new: written.is_nothing_new(),
                };
                run.mark(&mut tx)
                    .await
                    .context("marking the schedule run and creating its deliveries")?
            }
            _ => Vec::new(),
        };
        let Some(finished) = claim.end(tx, Finished::succeeded(result)).await? else {
            return Ok(None);
        };
        for job in &emails {
            let first = Event::queued(1);
            queue::enqueue_after_commit(&ctx.emitter, &ctx.queue, EmailJob::KIND, *job, &first)
                .await;
        }
        tracing::info!(synthesis_id = %self.id, emails = emails.len(), "synthesis saved");
        Ok(Some(finished))
    }
}

/// A scheduled run's end.
struct Run<'a> {
    claim: &'a Claim,
    synthesis_id: Uuid,
    schedule_id: Uuid,
    scheduled_for: DateTime<Utc>,
    nothing_new: bool,
}

impl Run<'_> {
    /// Marks the schedule run for its day and creates a delivery and an email job per
    /// recipient (once per recipient: the unique key makes a repeat a no-op); with nothing
    /// new, a `skipped` delivery each instead, unless the schedule mails even then.
    async fn mark(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    ) -> sqlx::Result<Vec<Uuid>> {
        let run = themes::mark_schedule_run(tx, self.schedule_id, self.scheduled_for).await?;
        let mut jobs = Vec::new();
        for recipient in run.emails {
            let delivery_id = Uuid::now_v7();
            if self.nothing_new && !run.send_when_empty {
                themes::skip_delivery(tx, delivery_id, self.synthesis_id, &recipient, NOTHING_NEW)
                    .await?;
                continue;
            }
            let job = NewJob::new(self.claim.actor(), &EmailJob { delivery_id })
                .in_lane(Lane::Scheduled)
                .following(&self.claim.trace_context);
            // The job first (the delivery refers to it); dropped again if the recipient
            // already has this synthesis.
            job.insert(&mut **tx).await?;
            if themes::create_delivery(tx, delivery_id, self.synthesis_id, &recipient, job.id)
                .await?
            {
                jobs.push(job.id);
            }
        }
        Ok(jobs)
    }
}

/// Why a scheduled digest was not mailed: nothing in its sources was new.
const NOTHING_NEW: &str = "NOTHING_NEW";

/// One source's documents.
async fn fetch(ctx: &JobContext, source: &Source) -> Result<Vec<Document>, String> {
    match source.kind {
        SourceKind::Text => Ok(vec![Document {
            source: "text".into(),
            title: source.value.chars().take(80).collect(),
            text: source.value.clone(),
            url: None,
            kind: DocumentKind::Text,
            guid: None,
        }]),
        SourceKind::Rss | SourceKind::Url => {
            let url = url::Url::parse(&source.value).map_err(|e| e.to_string())?;
            let outcome = if source.kind == SourceKind::Rss {
                ctx.fetcher.feed(&url).await
            } else {
                ctx.fetcher.page(&url).await.map(|doc| vec![doc])
            };
            outcome.map_err(|e| e.to_string())
        }
    }
}
