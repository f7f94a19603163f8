//! Small closed sets of words that cross the wire (`24h`, `completed`, `collector`…). Each is an
//! enum with one spelling per variant, parsed once at the edge: a query string, a JSON body or a
//! server-function argument that holds anything else is refused with a message that names the
//! field and lists the words it takes, whichever way it came in.

/// Declares a wire enum: its variants and their spellings, `ALL`, `as_str`, `parse`,
/// `Display`, serde as the spelling (deserialising through [`TryFrom<String>`], so a bad word
/// is refused with a sentence naming `$field` and the allowed words).
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        $name:ident, field $field:literal, default $default:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String")]
        pub enum $name {
            $( $(#[$vmeta])* #[serde(rename = $text)] $variant ),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// Parses the wire spelling (exactly; no case folding, no trimming).
            pub fn parse(text: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|value| value.as_str() == text)
            }

            /// The sentence a bad value is refused with.
            fn refusal(text: &str) -> String {
                let allowed: Vec<&str> = Self::ALL.iter().map(|value| value.as_str()).collect();
                let shown: String = text.chars().take(40).collect();
                format!(
                    "{} must be one of {} (got `{}`)",
                    $field,
                    allowed.join(", "),
                    shown.escape_debug()
                )
            }
        }

        // In the OpenAPI description: a string, one of the spellings. (Written out: a derive
        // cannot read the `rename`s this macro generates.)
        #[cfg(feature = "ssr")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$($text),+]))
                    .into()
            }
        }

        #[cfg(feature = "ssr")]
        impl utoipa::ToSchema for $name {}

        impl Default for $name {
            fn default() -> Self {
                $name::$default
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;

            fn try_from(text: String) -> Result<Self, String> {
                Self::parse(&text).ok_or_else(|| Self::refusal(&text))
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;

            fn from_str(text: &str) -> Result<Self, String> {
                Self::parse(text).ok_or_else(|| Self::refusal(text))
            }
        }
    };
}

wire_enum! {
    /// A trends period.
    Period, field "period", default Day {
        /// The last 24 hours.
        Day => "24h",
        /// The last 7 days.
        Week => "7d",
        /// The last 30 days.
        Month => "30d",
    }
}

impl Period {
    /// The period's length in milliseconds.
    pub fn millis(self) -> i64 {
        const DAY: i64 = 86_400_000;
        match self {
            Period::Day => DAY,
            Period::Week => 7 * DAY,
            Period::Month => 30 * DAY,
        }
    }
}

wire_enum! {
    /// Which finished jobs a clear removes.
    ClearKind, field "type", default All {
        /// The `completed` set.
        Completed => "completed",
        /// The `failed` set.
        Failed => "failed",
        /// Both.
        All => "all",
    }
}

impl ClearKind {
    /// Whether this kind removes completed jobs.
    pub fn includes_completed(self) -> bool {
        matches!(self, ClearKind::Completed | ClearKind::All)
    }

    /// Whether this kind removes failed jobs.
    pub fn includes_failed(self) -> bool {
        matches!(self, ClearKind::Failed | ClearKind::All)
    }
}

wire_enum! {
    /// A history bucket width.
    Step, field "step", default Minute {
        Minute => "minute",
        Hour => "hour",
        /// Days (UTC), so long trends read 30 buckets per queue, not 720.
        Day => "day",
    }
}

impl Step {
    /// The width in milliseconds.
    pub fn millis(self) -> u64 {
        match self {
            Step::Minute => 60_000,
            Step::Hour => 3_600_000,
            Step::Day => 86_400_000,
        }
    }

    /// The start of the bucket holding `ms`.
    pub fn bucket_start(self, ms: u64) -> u64 {
        ms - ms % self.millis()
    }
}

wire_enum! {
    /// Where numbers come from.
    Source, field "source", default Jobs {
        /// The monitor's own history (exact, even for jobs BullMQ has removed).
        Collector => "collector",
        /// The finished jobs BullMQ still retains.
        Jobs => "jobs",
        /// Some queues from the history, the others from the retained jobs.
        Mixed => "mixed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_round_trip_through_serde() {
        for period in Period::ALL {
            let json = serde_json::to_string(period).expect("serialise");
            assert_eq!(json, format!("\"{}\"", period.as_str()));
            let back: Period = serde_json::from_str(&json).expect("deserialise");
            assert_eq!(back, *period);
        }
        assert_eq!(
            serde_json::to_string(&Source::Collector).expect("json"),
            "\"collector\""
        );
    }

    #[test]
    fn a_bad_word_is_refused_naming_the_field_and_the_allowed_words() {
        let error = serde_json::from_str::<Period>("\"1h\"").expect_err("refused");
        let text = error.to_string();
        assert!(
            text.contains("period must be one of 24h, 7d, 30d (got `1h`)"),
            "{text}"
        );
        let error = "week".parse::<Step>().expect_err("refused");
        assert_eq!(error, "step must be one of minute, hour, day (got `week`)");
        assert!(ClearKind::try_from("x\u{0}".to_owned())
            .expect_err("refused")
            .contains("type must be one of completed, failed, all (got `x\\0`)"));
    }

    #[test]
    fn buckets_start_on_their_step() {
        assert_eq!(Step::Minute.bucket_start(125_000), 120_000);
        assert_eq!(Step::Hour.bucket_start(3_599_999), 0);
        assert_eq!(Step::Day.millis(), 86_400_000);
    }
}
