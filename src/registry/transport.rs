//! Why a connection to a registry failed, in the words an operator needs: the cause (name
//! resolution, refused, timeout, an untrusted or expired certificate, a reset) and whether
//! trying again can help. reqwest hides the cause several `source()` levels down; this
//! module walks the chain once and names it, so `Registry::send` retries only
//! what is transient and the message carries the fix.

use std::error::Error as StdError;
use std::io::ErrorKind;

/// What went wrong on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cause {
    /// The host name does not resolve.
    Dns,
    /// Nothing listens on that address and port.
    Refused,
    /// No answer in time.
    Timeout,
    /// The peer closed or reset the connection mid-way.
    Reset,
    /// The server's certificate is not signed by anything trusted.
    Untrusted(String),
    /// The server's certificate has expired (or is not yet valid).
    Expired,
    /// The server's certificate does not name the host asked for.
    WrongName,
    /// The server spoke plain HTTP where HTTPS was expected.
    NotTls,
    /// Any other TLS failure (a client certificate demanded, a protocol mismatch).
    Tls(String),
    /// Anything else.
    Other(String),
}

impl Cause {
    /// Whether another attempt could succeed. A refused connection counts only once the
    /// registry has answered in this run (it may be restarting); before that it is a wrong
    /// address, and waiting will not fix it.
    pub fn transient(&self, answered_before: bool) -> bool {
        match self {
            Cause::Timeout | Cause::Reset | Cause::Other(_) => true,
            Cause::Refused => answered_before,
            _ => false,
        }
    }

    /// Whether the cause lies in the certificate, so plain HTTP must not be tried instead.
    pub fn is_certificate(&self) -> bool {
        matches!(
            self,
            Cause::Untrusted(_) | Cause::Expired | Cause::WrongName | Cause::Tls(_)
        )
    }

    /// One sentence naming the cause at `host` and the fix, with the exact flag syntax.
    pub fn explain(&self, host: &str) -> String {
        let trust = format!(
            "trust its CA with `--ca-file CA.pem` (or put it in /etc/containers/certs.d/{host}/ca.crt), or skip verification with `--insecure-skip-verify {host}`"
        );
        match self {
            Cause::Dns => format!(
                "cannot resolve `{host}`: no such host; hint: check the name (DNS or /etc/hosts)"
            ),
            Cause::Refused => format!(
                "`{host}` refused the connection; hint: is the registry running, and on that port?"
            ),
            Cause::Timeout => format!("`{host}` did not answer in time"),
            Cause::Reset => format!("`{host}` closed the connection"),
            Cause::Untrusted(reason) => {
                format!("the certificate of `{host}` is not trusted ({reason}); hint: {trust}")
            }
            Cause::Expired => format!(
                "the certificate of `{host}` has expired or is not yet valid; hint: renew it, check this host's clock, or {trust}"
            ),
            Cause::WrongName => format!(
                "the certificate of `{host}` is not valid for that name; hint: use the name the certificate was issued for, or {trust}"
            ),
            Cause::NotTls => format!(
                "`{host}` answered plain HTTP to an HTTPS request; hint: reach it with `--plain-http {host}`"
            ),
            Cause::Tls(reason) => format!(
                "TLS with `{host}` failed ({reason}); hint: a registry that demands a client certificate needs `--cert FILE --key FILE`"
            ),
            Cause::Other(reason) => format!("cannot reach `{host}`: {reason}"),
        }
    }
}

/// Names the cause of a reqwest error by walking its sources.
pub fn classify(e: &reqwest::Error) -> Cause {
    let detail = super::http::describe(e);
    let mut source: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(tls) = s.downcast_ref::<rustls::Error>() {
            return tls_cause(tls);
        }
        source = s.source();
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            match io.kind() {
                ErrorKind::ConnectionRefused => return Cause::Refused,
                ErrorKind::TimedOut => return Cause::Timeout,
                ErrorKind::ConnectionReset
                | ErrorKind::ConnectionAborted
                | ErrorKind::BrokenPipe
                | ErrorKind::UnexpectedEof => return Cause::Reset,
                _ => {}
            }
            // io::Error::source skips the error it wraps (TLS errors come wrapped twice):
            // follow the wrapped one instead.
            if let Some(inner) = io.get_ref() {
                source = Some(inner);
            }
        }
    }
    let lower = detail.to_lowercase();
    if e.is_timeout() {
        Cause::Timeout
    } else if lower.contains("dns error")
        || lower.contains("failed to lookup address")
        || lower.contains("name or service not known")
    {
        Cause::Dns
    } else if lower.contains("invalidcontenttype") || lower.contains("corrupt message") {
        Cause::NotTls
    } else {
        Cause::Other(detail)
    }
}

fn tls_cause(e: &rustls::Error) -> Cause {
    use rustls::CertificateError as C;
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::UnknownIssuer => Cause::Untrusted("signed by an unknown authority".into()),
            C::BadSignature => Cause::Untrusted("bad signature".into()),
            C::Expired
            | C::ExpiredContext { .. }
            | C::NotValidYet
            | C::NotValidYetContext { .. } => Cause::Expired,
            C::NotValidForName | C::NotValidForNameContext { .. } => Cause::WrongName,
            C::Other(o) => Cause::Untrusted(o.to_string()),
            other => Cause::Untrusted(format!("{other:?}")),
        },
        rustls::Error::InvalidMessage(_) => Cause::NotTls,
        other => Cause::Tls(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_transient_causes_are_retried() {
        assert!(Cause::Timeout.transient(false));
        assert!(Cause::Reset.transient(false));
        assert!(!Cause::Refused.transient(false));
        assert!(Cause::Refused.transient(true));
        for c in [
            Cause::Dns,
            Cause::Untrusted("x".into()),
            Cause::Expired,
            Cause::WrongName,
            Cause::NotTls,
        ] {
            assert!(!c.transient(true), "{c:?}");
        }
    }

    #[test]
    fn certificate_messages_name_both_fixes() {
        let text = Cause::Untrusted("signed by an unknown authority".into()).explain("reg:5000");
        assert!(text.contains("--ca-file CA.pem"), "{text}");
        assert!(text.contains("--insecure-skip-verify reg:5000"), "{text}");
    }
}
