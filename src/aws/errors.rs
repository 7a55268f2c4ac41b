//! One readable line for a failed AWS call: the service's code and message, or
//! the transport failure. Formatting only; callers decide what a failure means.

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

/// A one-line reason for a failed call: the service's code and message when it
/// answered, the transport failure when it did not.
pub(crate) fn describe<E, R>(err: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    match err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            match (e.code(), e.message()) {
                (Some(code), Some(message)) => format!("{code}: {message}"),
                (Some(code), None) => code.to_string(),
                _ => chain(err),
            }
        }
        SdkError::TimeoutError(_) => "timed out".into(),
        SdkError::DispatchFailure(_) => format!("cannot reach AWS: {}", chain(err)),
        _ => chain(err),
    }
}

/// "outer: cause: root cause", each message once, without the SDK's Debug dumps.
fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    short(parts.join(": "))
}

/// The SDK's error chains can run to kilobytes (whole responses); a reason in a
/// report should stay one readable line.
fn short(text: String) -> String {
    const MAX: usize = 300;
    let line = text.lines().next().unwrap_or_default();
    if line.chars().count() <= MAX {
        line.to_string()
    } else {
        format!("{}...", line.chars().take(MAX).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|e| e as _)
        }
    }

    #[test]
    fn a_chain_names_each_message_once() {
        let err = Layer(
            "dispatch failure",
            Some(Box::new(Layer(
                "io error",
                Some(Box::new(Layer("connection refused", None))),
            ))),
        );
        assert_eq!(
            chain(&err),
            "dispatch failure: io error: connection refused"
        );
        // A cause already contained in an outer message is not repeated.
        let err = Layer(
            "io error: connection refused",
            Some(Box::new(Layer("connection refused", None))),
        );
        assert_eq!(chain(&err), "io error: connection refused");
    }

    #[test]
    fn a_reason_stays_one_short_line() {
        assert_eq!(short("first\nsecond".into()), "first");
        let long = "x".repeat(400);
        let cut = short(long);
        assert_eq!(cut.chars().count(), 303);
        assert!(cut.ends_with("..."));
    }
}
