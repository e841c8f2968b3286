//! Log output of `attestor run`.
//!
//! Logs go to stderr, as the container runtime expects, either as text for a
//! person at a terminal or `kubectl logs`, or as one JSON object per line for
//! a log pipeline. What is logged is chosen by `RUST_LOG` (the `EnvFilter`
//! syntax, e.g. `debug` or `info,attestor_runtime=debug`).

use std::fmt;
use std::io::IsTerminal as _;
use std::str::FromStr;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// The filter when `RUST_LOG` is unset or empty: our own events from info up,
/// and only warnings from the HTTP and Kubernetes client stacks, whose info
/// and debug events describe every request and watch (directives match target
/// prefixes, so `kube` covers `kube_client` and `kube_runtime`, `hyper`
/// covers `hyper_util`, and so on).
pub const DEFAULT_FILTER: &str = "info,kube=warn,hyper=warn,tower=warn,h2=warn,rustls=warn";

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines; coloured only when stderr is a terminal.
    #[default]
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`, `fields`,
    /// and the current `span` and the list of enclosing `spans` with their fields.
    Json,
}

impl LogFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A log format that is neither `text` nor `json`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown log format {0:?}: expected \"text\" or \"json\"")]
pub struct ParseLogFormatError(String);

impl FromStr for LogFormat {
    type Err = ParseLogFormatError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(ParseLogFormatError(s.to_owned())),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error(
        "invalid RUST_LOG {value:?}: {source}; see the tracing-subscriber EnvFilter syntax, e.g. RUST_LOG=info,attestor_runtime=debug"
    )]
    Filter {
        value: String,
        #[source]
        source: tracing_subscriber::filter::ParseError,
    },
    #[error("RUST_LOG is not valid Unicode")]
    FilterNotUnicode,
    #[error("logging is already set up in this process: telemetry::init must be called once")]
    AlreadyInitialized(#[source] tracing::subscriber::SetGlobalDefaultError),
}

/// Installs the process-wide log subscriber, writing to stderr in `format`,
/// filtered by `RUST_LOG` (or [`DEFAULT_FILTER`]).
///
/// An invalid `RUST_LOG` is an error rather than silently ignored: a
/// mistyped filter would otherwise hide exactly the logs someone asked for.
pub fn init(format: LogFormat) -> Result<(), TelemetryError> {
    let filter = filter_from_env()?;
    install(
        format,
        filter,
        std::io::stderr,
        std::io::stderr().is_terminal(),
    )
}

fn filter_from_env() -> Result<EnvFilter, TelemetryError> {
    match std::env::var(EnvFilter::DEFAULT_ENV) {
        Ok(value) if !value.trim().is_empty() => {
            EnvFilter::try_new(&value).map_err(|source| TelemetryError::Filter { value, source })
        }
        Ok(_) | Err(std::env::VarError::NotPresent) => Ok(EnvFilter::new(DEFAULT_FILTER)),
        Err(std::env::VarError::NotUnicode(_)) => Err(TelemetryError::FilterNotUnicode),
    }
}

fn install<W>(
    format: LogFormat,
    filter: EnvFilter,
    writer: W,
    ansi: bool,
) -> Result<(), TelemetryError>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing::subscriber::set_global_default(subscriber(format, filter, writer, ansi))
        .map_err(TelemetryError::AlreadyInitialized)
}

fn subscriber<W>(
    format: LogFormat,
    filter: EnvFilter,
    writer: W,
    ansi: bool,
) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match format {
        LogFormat::Text => Box::new(builder.with_ansi(ansi).finish()),
        LogFormat::Json => Box::new(
            builder
                .json()
                .with_current_span(true)
                .with_span_list(true)
                .finish(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'w> MakeWriter<'w> for Buffer {
        type Writer = Buffer;
        fn make_writer(&'w self) -> Self::Writer {
            self.clone()
        }
    }

    impl Buffer {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    fn log_with(format: LogFormat, filter: &str) -> String {
        let buffer = Buffer::default();
        let subscriber = subscriber(format, EnvFilter::new(filter), buffer.clone(), false);
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("reconcile", object = "default/pv-1");
            let _entered = span.enter();
            tracing::info!(attempt = 2, "verified");
            tracing::debug!("hidden at info");
        });
        buffer.text()
    }

    #[test]
    fn json_is_one_object_per_line_with_span_context() {
        let out = log_with(LogFormat::Json, "info");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 1, "{out}");
        let event: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        assert!(event["timestamp"].is_string(), "{event}");
        assert_eq!(event["level"], "INFO");
        assert_eq!(event["target"], module_path!());
        assert_eq!(event["fields"]["message"], "verified");
        assert_eq!(event["fields"]["attempt"], 2);
        assert_eq!(event["span"]["name"], "reconcile");
        assert_eq!(event["span"]["object"], "default/pv-1");
        assert_eq!(event["spans"][0]["name"], "reconcile");
    }

    #[test]
    fn text_has_no_colour_codes_off_a_terminal() {
        let out = log_with(LogFormat::Text, "info");
        assert!(out.contains("INFO"), "{out}");
        assert!(out.contains("reconcile{object=\"default/pv-1\"}"), "{out}");
        assert!(out.contains("verified attempt=2"), "{out}");
        assert!(!out.contains('\x1b'), "{out:?}");
        assert!(!out.contains("hidden"));
    }

    #[test]
    fn default_filter_quiets_client_stacks() {
        let filter = DEFAULT_FILTER;
        let buffer = Buffer::default();
        let subscriber = subscriber(
            LogFormat::Text,
            EnvFilter::new(filter),
            buffer.clone(),
            false,
        );
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(target: "kube_runtime::controller", "noise");
            tracing::info!(target: "hyper_util::client", "noise");
            tracing::warn!(target: "kube_client::client", "a client warning");
            tracing::info!(target: "attestor_runtime::controller", "our info");
        });
        let out = buffer.text();
        assert!(!out.contains("noise"), "{out}");
        assert!(out.contains("a client warning"));
        assert!(out.contains("our info"));
    }

    #[test]
    fn log_format_parses() {
        assert_eq!("text".parse(), Ok(LogFormat::Text));
        assert_eq!("JSON".parse(), Ok(LogFormat::Json));
        let e = "yaml".parse::<LogFormat>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown log format \"yaml\": expected \"text\" or \"json\""
        );
        assert_eq!(LogFormat::Json.to_string(), "json");
    }

    #[test]
    fn a_second_init_is_an_error() {
        // `off`, so that the subscriber installed here for the whole test binary stays silent.
        install(LogFormat::Text, EnvFilter::new("off"), io::sink, false).unwrap();
        let e = install(LogFormat::Json, EnvFilter::new("off"), io::sink, false).unwrap_err();
        assert!(matches!(e, TelemetryError::AlreadyInitialized(_)), "{e}");
        assert!(init(LogFormat::Text).is_err());
    }
}
