//! The Retry form of a stuck job: priority, attempts, back-off, `dataOverrides` as JSON and
//! "remove original". The fields are checked here before anything is sent (the server checks
//! again; its limits are the same), so a typo in the JSON is pointed out at the field.

use crate::api::retry_job;
use crate::components::format::path_segment;
use crate::components::notice::ErrorNotice;
use crate::model::{
    Backoff, BackoffKind, FieldError, JobId, RetryChanges, RetryReply, MAX_ATTEMPTS, MAX_PRIORITY,
};
use leptos::prelude::*;
use serde_json::{Map, Value};

/// What the form's fields hold, as typed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RetryFields {
    pub priority: String,
    pub attempts: String,
    /// `""` (keep the job's own), `fixed` or `exponential`.
    pub backoff_type: String,
    pub backoff_delay: String,
    pub data_overrides: String,
    pub remove_original: bool,
}

/// A whole number typed into `field`, or `None` when the field is empty.
fn whole_number(text: &str, field: &'static str, label: &str) -> Result<Option<u64>, FieldError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse::<u64>().map(Some).map_err(|_| FieldError {
        field,
        message: format!("{label} must be a whole number"),
    })
}

impl RetryFields {
    /// The changes the fields ask for, or the first field that is wrong. Ranges are checked by
    /// [`RetryChanges::validate`], the server's own check.
    pub fn to_changes(&self) -> Result<RetryChanges, FieldError> {
        let delay = whole_number(&self.backoff_delay, "backoffDelay", "Back-off delay")?;
        let backoff = match self.backoff_type.as_str() {
            "" if delay.is_some() => {
                return Err(FieldError {
                    field: "backoffDelay",
                    message: "choose a back-off type for the delay".into(),
                })
            }
            "" => None,
            "fixed" => Some(BackoffKind::Fixed),
            "exponential" => Some(BackoffKind::Exponential),
            _ => {
                return Err(FieldError {
                    field: "backoffType",
                    message: "back-off is fixed or exponential".into(),
                })
            }
        }
        .map(|kind| Backoff {
            kind,
            delay: delay.unwrap_or(0),
        });
        let overrides = self.data_overrides.trim();
        let data_overrides = if overrides.is_empty() {
            Map::new()
        } else {
            match crate::codec::decode::<Value>(overrides) {
                Ok(Value::Object(fields)) => fields,
                Ok(_) => {
                    return Err(FieldError {
                        field: "dataOverrides",
                        message: "data overrides must be a JSON object, like {\"to\": \"a@b.c\"}"
                            .into(),
                    })
                }
                Err(error) => {
                    return Err(FieldError {
                        field: "dataOverrides",
                        message: format!("data overrides are not valid JSON: {error}"),
                    })
                }
            }
        };
        let changes = RetryChanges {
            priority: whole_number(&self.priority, "priority", "Priority")?,
            attempts: whole_number(&self.attempts, "attempts", "Attempts")?,
            backoff,
            data_overrides,
            remove_original: self.remove_original,
        };
        changes.validate()?;
        Ok(changes)
    }
}

/// What the server did with a retry, in words.
pub fn describe(reply: &RetryReply) -> String {
    let original = match reply.original.as_str() {
        "removed" => "the original was removed",
        "failed" => "the original was moved to failed",
        _ => "the original was kept",
    };
    if reply.repeated {
        format!(
            "Already retried as job {} by the same request; no second job was made.",
            reply.new_job_id
        )
    } else {
        format!("Retried as job {}; {original}.", reply.new_job_id)
    }
}

/// The form, under the job it retries (a stuck job, or the job open in the explorer).
/// `on_close` hides it. With `on_changes` it retries nothing itself: it hands the validated
/// changes over (the explorer's bulk bar, for a `retry-with-changes` of the selection).
#[component]
pub fn RetryForm(
    queue_name: String,
    job_id: String,
    on_close: Callback<()>,
    #[prop(optional)] on_changes: Option<Callback<RetryChanges>>,
) -> impl IntoView {
    let priority = RwSignal::new(String::new());
    let attempts = RwSignal::new(String::new());
    let backoff_type = RwSignal::new(String::new());
    let backoff_delay = RwSignal::new(String::new());
    let data_overrides = RwSignal::new(String::new());
    let remove_original = RwSignal::new(false);
    let invalid = RwSignal::new(None::<FieldError>);
    let title = match on_changes {
        Some(_) => format!("Retry the selected jobs of {queue_name} with changes"),
        None => format!("Retry job {job_id} of {queue_name}"),
    };
    let id = format!("retry-{}", path_segment(&format!("{queue_name}-{job_id}")));
    let send = Action::new(move |(job_id, changes): &(JobId, RetryChanges)| {
        retry_job(queue_name.clone(), job_id.clone(), changes.clone())
    });
    let pending = send.pending();
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let fields = RetryFields {
            priority: priority.get_untracked(),
            attempts: attempts.get_untracked(),
            backoff_type: backoff_type.get_untracked(),
            backoff_delay: backoff_delay.get_untracked(),
            data_overrides: data_overrides.get_untracked(),
            remove_original: remove_original.get_untracked(),
        };
        if let Some(on_changes) = on_changes {
            match fields.to_changes() {
                Ok(changes) => {
                    invalid.set(None);
                    on_changes.run(changes);
                }
                Err(error) => invalid.set(Some(error)),
            }
            return;
        }
        let request = JobId::parse(&job_id).map_err(|message| FieldError {
            field: "body",
            message,
        });
        match request.and_then(|id| Ok((id, fields.to_changes()?))) {
            Ok(request) => {
                invalid.set(None);
                send.dispatch(request);
            }
            Err(error) => invalid.set(Some(error)),
        }
    };
    // Typing into a field withdraws the complaint about it until the next submit.
    let edit = move |field: RwSignal<String>, value: String| {
        field.set(value);
        invalid.set(None);
    };
    let field_id = move |name: &str| format!("{id}-{name}");
    let is_invalid = move |name: &'static str| {
        move || {
            invalid
                .with(|e| e.as_ref().is_some_and(|e| e.field == name))
                .to_string()
        }
    };
    let field_note = move |name: &'static str| {
        move || {
            invalid.with(|e| {
                e.as_ref()
                    .filter(|e| e.field == name)
                    .map(|e| view! { <p class="field-error" role="alert">{e.message.clone()}</p> })
            })
        }
    };
    let number_field = {
        let field_id = field_id.clone();
        move |label: &'static str,
              name: &'static str,
              min: u64,
              max: Option<u64>,
              placeholder: &'static str,
              value: RwSignal<String>| {
            let id = field_id(name);
            let label_for = id.clone();
            view! {
                <label for=label_for>{label}
                    <input id=id name=name type="number" min=min.to_string() max=max.map(|m| m.to_string())
                        inputmode="numeric" placeholder=placeholder
                        aria-invalid=is_invalid(name)
                        prop:value=move || value.get()
                        on:input=move |ev| edit(value, event_target_value(&ev))/>
                </label>
            }
        }
    };
    let heading = title.clone();
    view! {
        <form class="retry-form" aria-label=title on:submit=submit>
            <h3>{heading}</h3>
            <div class="fields">
                {number_field("Priority", "priority", 0, Some(MAX_PRIORITY), "as before", priority)}
                {number_field("Attempts", "attempts", 1, Some(MAX_ATTEMPTS), "as before", attempts)}
                <label for=field_id("backoff-type")>"Back-off"
                    <select id=field_id("backoff-type") name="backoffType"
                        on:change=move |ev| backoff_type.set(event_target_value(&ev))>
                        <option value="">"as before"</option>
                        <option value="fixed">"fixed"</option>
                        <option value="exponential">"exponential"</option>
                    </select>
                </label>
                {number_field("Back-off delay (ms)", "backoffDelay", 0, None, "0", backoff_delay)}
            </div>
            {field_note("priority")}
            {field_note("attempts")}
            {field_note("backoffDelay")}
            {field_note("backoffType")}
            <label for=field_id("data") class="wide">"Data overrides (JSON object, merged into the job's data)"
                <textarea id=field_id("data") name="dataOverrides" rows="3" spellcheck="false"
                    placeholder="{\"key\": \"new value\"}"
                    aria-invalid=is_invalid("dataOverrides")
                    prop:value=move || data_overrides.get()
                    on:input=move |ev| edit(data_overrides, event_target_value(&ev))></textarea>
            </label>
            {field_note("dataOverrides")}
            {field_note("body")}
            <label class="check">
                <input type="checkbox" name="removeOriginal"
                    prop:checked=move || remove_original.get()
                    on:change=move |ev| remove_original.set(event_target_checked(&ev))/>
                {if on_changes.is_some() {
                    "Remove the originals"
                } else {
                    "Remove the original (an active original is moved to failed instead)"
                }}
            </label>
            <div class="actions">
                <button type="submit" class="primary" disabled=move || pending.get()>
                    {move || match (pending.get(), on_changes.is_some()) {
                        (true, _) => "Retrying…",
                        (false, true) => "Count the jobs",
                        (false, false) => "Retry job",
                    }}
                </button>
                <button type="button" on:click=move |_| on_close.run(())>"Close"</button>
            </div>
            <div class="form-outcome" aria-live="polite">
                {move || send.value().get().map(|result| match result {
                    Ok(reply) => view! { <p class="ok">{describe(&reply)}</p> }.into_any(),
                    Err(error) => view! { <ErrorNotice error/> }.into_any(),
                })}
            </div>
        </form>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> RetryFields {
        RetryFields::default()
    }

    fn to_request(fields: &RetryFields) -> Result<String, FieldError> {
        fields
            .to_changes()
            .map(|changes| serde_json::to_string(&changes).expect("json"))
    }

    #[test]
    fn an_empty_form_retries_as_it_was() {
        assert_eq!(to_request(&fields()).expect("valid"), "{}");
    }

    #[test]
    fn every_field_reaches_the_request() {
        let request = to_request(&RetryFields {
            priority: "5".into(),
            attempts: " 3 ".into(),
            backoff_type: "exponential".into(),
            backoff_delay: "2000".into(),
            data_overrides: r#"{"to": "ops@example.com", "n": 2}"#.into(),
            remove_original: true,
        })
        .expect("valid");
        let value: Value = serde_json::from_str(&request).expect("JSON");
        assert_eq!(
            value,
            serde_json::json!({
                "priority": 5, "attempts": 3,
                "backoff": {"type": "exponential", "delay": 2000},
                "dataOverrides": {"to": "ops@example.com", "n": 2},
                "removeOriginal": true
            })
        );
    }

    #[test]
    fn bad_fields_are_named() {
        let check = |f: RetryFields, field: &str| {
            assert_eq!(f.to_changes().expect_err("refused").field, field)
        };
        check(
            RetryFields {
                priority: "-1".into(),
                ..fields()
            },
            "priority",
        );
        check(
            RetryFields {
                priority: "2097153".into(),
                ..fields()
            },
            "priority",
        );
        check(
            RetryFields {
                attempts: "0".into(),
                ..fields()
            },
            "attempts",
        );
        check(
            RetryFields {
                attempts: "1.5".into(),
                ..fields()
            },
            "attempts",
        );
        check(
            RetryFields {
                backoff_delay: "100".into(),
                ..fields()
            },
            "backoffDelay",
        );
        check(
            RetryFields {
                data_overrides: "{\"a\": }".into(),
                ..fields()
            },
            "dataOverrides",
        );
        check(
            RetryFields {
                data_overrides: "[1, 2]".into(),
                ..fields()
            },
            "dataOverrides",
        );
        let message = RetryFields {
            data_overrides: "{oops".into(),
            ..fields()
        }
        .to_changes()
        .expect_err("refused")
        .message;
        assert!(
            message.starts_with("data overrides are not valid JSON"),
            "{message}"
        );
    }

    #[test]
    fn replies_read_as_sentences() {
        let reply = RetryReply {
            success: true,
            new_job_id: "42".into(),
            message: String::new(),
            original: "failed".into(),
            repeated: false,
        };
        assert_eq!(
            describe(&reply),
            "Retried as job 42; the original was moved to failed."
        );
    }
}
