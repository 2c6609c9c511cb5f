//! The one way an error and its causes are shown: `outer: inner: …` on one line.
//!
//! Every crate boxes foreign errors as [`BoxError`] and logs or prints an error with
//! [`chain`], so a log field or a CLI message always carries the root cause.

use std::error::Error;
use std::fmt;

/// A boxed error of any kind, kept as the `#[source]` of a typed error.
pub type BoxError = Box<dyn Error + Send + Sync + 'static>;

/// Shows an error and its causes as `outer: inner: …`.
///
/// A cause whose text the line already ends with is left out: many errors (the AWS SDK's
/// among them) repeat their source's message in their own.
pub struct Chain<'a>(pub &'a (dyn Error + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut last = self.0.to_string();
        f.write_str(&last)?;
        let mut cause = self.0.source();
        while let Some(e) = cause {
            let text = e.to_string();
            if !last.ends_with(&text) {
                write!(f, ": {text}")?;
            }
            last = text;
            cause = e.source();
        }
        Ok(())
    }
}

/// The error and all its causes on one line (see [`Chain`]).
pub fn chain(error: &(dyn Error + 'static)) -> String {
    Chain(error).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("{text}")]
    struct E {
        text: &'static str,
        #[source]
        source: Option<Box<E>>,
    }

    fn e(text: &'static str, source: Option<E>) -> E {
        E {
            text,
            source: source.map(Box::new),
        }
    }

    #[test]
    fn every_cause_in_order() {
        let err = e("outer", Some(e("middle", Some(e("root", None)))));
        assert_eq!(chain(&err), "outer: middle: root");
    }

    #[test]
    fn a_cause_the_text_already_ends_with_is_left_out() {
        let err = e(
            "send failed: throttled",
            Some(e("throttled", Some(e("root", None)))),
        );
        assert_eq!(chain(&err), "send failed: throttled: root");
    }

    #[test]
    fn an_error_without_cause_is_its_text() {
        assert_eq!(chain(&e("alone", None)), "alone");
    }
}
