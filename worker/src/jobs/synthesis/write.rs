//! What the AI writes of a synthesis: the documents read in, each section written and what
//! its calls cost, and the sections saved.

use super::{
    Claim, Context, Document, Event, HashSet, ItemReader, JobContext, JobError, Next, Section,
    Stop, Synthesis, Usage, Uuid, Value, account, ai_error, synthesis, themes,
};

/// What the AI wrote, and what its calls cost.
pub(super) struct Written {
    pub(super) synthesis: Synthesis,
    /// None when nothing new was written about.
    pub(super) provider: Option<String>,
    pub(super) model: Option<String>,
    pub(super) usage: Usage,
}

impl Written {
    /// Whether this is [`Written::nothing_new`]: no AI wrote it.
    pub(super) fn is_nothing_new(&self) -> bool {
        self.provider.is_none()
    }

    /// A scheduled run's synthesis when every item of its sources was sent already: no AI
    /// call; what the "nothing new" mail says when the schedule asks for one.
    pub(super) fn nothing_new(theme: &str) -> Self {
        Self {
            synthesis: Synthesis {
                title: format!("Nothing new in {theme}"),
                sections: vec![Section {
                    title: "Nothing new".into(),
                    summary: "The sources have nothing that an earlier digest did not carry."
                        .into(),
                    items: Vec::new(),
                }],
            },
            provider: None,
            model: None,
            usage: Usage::default(),
        }
    }
}

/// Asks the AI for the synthesis. Each section is saved (fenced by the claim) and reported
/// the moment its object closes; a cut answer is asked for again whole (at most
/// `AI_MAX_RETRIES` times), and the sections it repeats (by title) are kept once. `None`
/// when the claim was lost.
pub(super) async fn write(
    ctx: &JobContext,
    claim: &Claim,
    synthesis_id: Uuid,
    theme: &Value,
    documents: &[Document],
    mut sections: Vec<Section>,
) -> Result<Option<Written>, JobError> {
    let key = |title: &str| title.trim().to_lowercase();
    let mut seen: HashSet<String> = sections.iter().map(|s| key(&s.title)).collect();
    let mut usage = Usage::default();
    let mut cuts = 0;
    loop {
        let mut answer = ItemReader::open(ctx.ai.as_ref(), synthesis::prompt(theme, documents))
            .await
            .map_err(|e| ai_error(&e))?;
        let outcome = loop {
            let items = match answer.next().await {
                Ok(Next::Items(items)) => items,
                Ok(Next::Done(whole)) => break Ok(whole),
                Err(stop) => break Err(stop),
            };
            let new: Vec<Section> = items
                .iter()
                .filter(|item| item.field == "sections")
                .filter_map(|item| synthesis::parse_section(&item.value))
                .filter(|section| seen.insert(key(&section.title)))
                .collect();
            if new.is_empty() {
                continue;
            }
            if !save_sections(ctx, claim, synthesis_id, &new).await? {
                return Ok(None);
            }
            for section in new {
                sections.push(section);
                let percent = (65 + 5 * sections.len()).min(88) as u8;
                let message = format!(
                    "section {} written: {}",
                    sections.len(),
                    sections[sections.len() - 1].title
                );
                ctx.emitter
                    .emit_or_log(claim.id, &Event::step("writing", message, percent))
                    .await;
            }
        };
        let response = answer.response();
        usage.input_tokens += response.usage.input_tokens;
        usage.output_tokens += response.usage.output_tokens;
        if let Some(over_budget) = account(ctx, claim, &response).await? {
            return Err(over_budget);
        }
        let invalid = |message: String| {
            JobError::transient("AI_OUTPUT_INVALID", message).with("model", response.model.clone())
        };
        match outcome {
            Ok(_) if sections.is_empty() => {
                return Err(invalid("the AI's answer has no sections".into()));
            }
            Ok(whole) => {
                return Ok(Some(Written {
                    synthesis: Synthesis {
                        title: synthesis::parse_title(&whole),
                        sections,
                    },
                    provider: Some(response.provider),
                    model: Some(response.model),
                    usage,
                }));
            }
            Err(Stop::Cut(error)) if cuts < ctx.settings.ai.max_retries => {
                cuts += 1;
                tracing::warn!(error = %error.message, "the answer was cut; asking for the synthesis again");
            }
            Err(Stop::Cut(error)) => return Err(ai_error(&error)),
            Err(Stop::Malformed(error)) => return Err(invalid(error.0)),
        }
    }
}

/// Appends sections to the synthesis if the claim still holds, in one statement; `false`
/// when it was lost.
pub(super) async fn save_sections(
    ctx: &JobContext,
    claim: &Claim,
    synthesis_id: Uuid,
    sections: &[Section],
) -> Result<bool, JobError> {
    let alive = themes::save_sections(&ctx.pool, claim, synthesis_id, sections)
        .await
        .context("saving a section")?;
    if !alive {
        tracing::warn!("claim lost before saving a section; it was discarded");
    }
    Ok(alive)
}
