//! The parsers of what users write for registries, addresses and push targets
//! (`host[:port]`, `ADDRESS:PORT`, `REGISTRY=MIRROR`, `HOST[:PORT][/PATH]`), checked when
//! the arguments are parsed so that a bad value is a usage error naming the option (exit
//! 2), not a connection error later.

/// A registry as `host[:port]`, checked when the arguments are parsed (exit 2). (clap
/// names the option and the value before the message.)
pub fn parse_registry(text: &str) -> Result<String, String> {
    if let Some(problem) = host_port_problem(text, Port::Reachable) {
        return Err(problem);
    }
    if crate::oci::reference::valid_registry(text) {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "`{text}` is not a registry (expected host[:port], e.g. localhost:5000)"
        ))
    }
}

/// `--mirror REGISTRY=MIRROR`, both sides `host[:port]`, checked when the arguments are
/// parsed (exit 2).
pub fn parse_mirror(text: &str) -> Result<String, String> {
    let Some((from, to)) = text.split_once('=') else {
        return Err("give REGISTRY=MIRROR, e.g. docker.io=mirror.local:5000".into());
    };
    for (side, value) in [("registry", from), ("mirror", to)] {
        parse_registry(value).map_err(|e| format!("the {side} `{value}`: {e}"))?;
    }
    Ok(text.to_owned())
}

/// `serve --listen`: an IP address of this host and a port; port 0 asks the system for
/// any free port.
pub fn parse_listen(text: &str) -> Result<std::net::SocketAddr, String> {
    let example = "e.g. 127.0.0.1:5000, 0.0.0.0:5000 (every address) or [::1]:5000";
    if let Some(problem) = host_port_problem(text, Port::ZeroIsAny) {
        return Err(problem);
    }
    if let Ok(addr) = text.parse() {
        return Ok(addr);
    }
    if text.parse::<std::net::IpAddr>().is_ok()
        || text
            .strip_prefix('[')
            .and_then(|t| t.strip_suffix(']'))
            .is_some_and(|t| t.parse::<std::net::Ipv6Addr>().is_ok())
    {
        return Err(format!(
            "no port; give ADDRESS:PORT (port 0: any free port), {example}"
        ));
    }
    Err(format!(
        "not an IP address of this host with a port; give ADDRESS:PORT, {example}"
    ))
}

/// `serve --advertise`: the `host[:port]` clients reach the server at.
pub fn parse_advertise(text: &str) -> Result<String, String> {
    match host_port_problem(text, Port::Reachable) {
        Some(problem) => Err(problem),
        None => Ok(text.to_owned()),
    }
}

/// Which ports an option takes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Port {
    /// 1 to 65535: a port something connects to.
    Reachable,
    /// 0 to 65535: a port to listen on, 0 being any free one.
    ZeroIsAny,
}

/// What is wrong with the host or the port of `host[:port]` (`[v6][:port]`), with the fix,
/// or `None`: a host is a DNS name (labels of letters, digits and inner `-`), an IPv4
/// address, or an IPv6 address in brackets; a port is a number in the range `port` allows.
/// Checked at parse time so that `127.0.0.1:99999` is a usage error naming the option,
/// not a connection error later.
fn host_port_problem(text: &str, port: Port) -> Option<String> {
    if let Some((scheme, _)) = text.split_once("://") {
        return Some(format!("give HOST[:PORT] without `{scheme}://`"));
    }
    let (host, port_text) = if let Some(inner) = text.strip_prefix('[') {
        let Some((v6, rest)) = inner.split_once(']') else {
            return Some("an IPv6 address in `[` needs its `]`, e.g. [::1]:5000".into());
        };
        if v6.parse::<std::net::Ipv6Addr>().is_err() {
            return Some(format!(
                "`{v6}` is not an IPv6 address; write one in brackets, e.g. [::1]:5000"
            ));
        }
        match rest.strip_prefix(':') {
            Some(p) => (None, Some(p)),
            None if rest.is_empty() => (None, None),
            None => return Some(format!("`{rest}` after `]` should be `:PORT`")),
        }
    } else {
        if text.matches(':').count() > 1 {
            return Some(
                "an IPv6 address goes in brackets, with the port after them: [::1]:5000".into(),
            );
        }
        match text.split_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(text), None),
        }
    };
    if let Some(host) = host
        && let Some(problem) = host_problem(host)
    {
        return Some(problem);
    }
    let p = port_text?;
    let range = match port {
        Port::Reachable => "from 1 to 65535",
        Port::ZeroIsAny => "from 0 (any free port) to 65535",
    };
    match p.parse::<u32>() {
        _ if p.is_empty() => Some(format!(
            "no port after the `:`; give a port {range}, or leave out the `:`"
        )),
        Ok(n) if n <= 65535 && (n > 0 || port == Port::ZeroIsAny) => None,
        Ok(n) if p.bytes().all(|b| b.is_ascii_digit()) => {
            Some(format!("port {n} is out of range; give a port {range}"))
        }
        _ => Some(format!("port `{p}` is not a number; give a port {range}")),
    }
}

/// What is wrong with a host name or IPv4 address, with the fix.
fn host_problem(host: &str) -> Option<String> {
    if host.is_empty() {
        return Some("no host before the port; give HOST:PORT, e.g. localhost:5000".into());
    }
    let labels: Vec<&str> = host.split('.').collect();
    // A name whose last label is a number is read as an IPv4 address (as URLs are).
    if labels
        .last()
        .is_some_and(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()))
    {
        return match host.parse::<std::net::Ipv4Addr>() {
            Ok(_) => None,
            Err(_) => Some(format!(
                "`{host}` is not an IPv4 address; give four numbers from 0 to 255, e.g. 10.0.0.5, or a host name"
            )),
        };
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if host.len() <= 253 && labels.iter().all(|l| label_ok(l)) {
        None
    } else {
        Some(format!(
            "`{host}` is not a host name; use letters, digits and `-` in labels joined by `.` (a label neither starts nor ends with `-`), or an IP address"
        ))
    }
}

/// A repository prefix: components the distribution spec allows, joined by `/`; slashes
/// at either end are dropped. Checked when the arguments are parsed (exit 2).
pub fn parse_prefix(text: &str) -> Result<String, String> {
    let trimmed = text.trim_matches('/');
    if crate::oci::reference::valid_repository(trimmed) {
        Ok(trimmed.to_owned())
    } else {
        Err(format!(
            "`{text}` is not a repository prefix (lowercase letters, digits and single `.`, `_`, `-` separators, components joined by `/`; no `..`)"
        ))
    }
}

/// Where `--push` sends images, as the user wrote it, taken apart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushTarget {
    /// `host[:port]`.
    pub host: String,
    /// `http://` was written: plain HTTP.
    pub plain_http: bool,
    /// A path after the host: the repository prefix.
    pub prefix: Option<String>,
}

/// A push location as users write it: `HOST[:PORT][/PATH]`, with an optional `https://`,
/// `docker://` or `http://` (plain HTTP) in front. Anything else is refused at parse time
/// (exit 2) with the forms that work.
pub fn parse_push_target(text: &str) -> Result<PushTarget, String> {
    let forms = "use HOST[:PORT][/PATH], https://HOST[:PORT], http://HOST[:PORT] (plain HTTP) or docker://HOST[:PORT]";
    let (rest, plain_http) = if let Some(r) = text.strip_prefix("https://") {
        (r, false)
    } else if let Some(r) = text.strip_prefix("http://") {
        (r, true)
    } else if let Some(r) = text.strip_prefix("docker://") {
        (r, false)
    } else if let Some((scheme, _)) = text.split_once("://") {
        return Err(format!(
            "`{text}`: outrider does not push over `{scheme}://`; {forms}"
        ));
    } else {
        (text, false)
    };
    let rest = rest.trim_end_matches('/');
    if rest.contains(['?', '#']) {
        return Err(format!("`{text}` has a query or fragment; {forms}"));
    }
    let (host, path) = match rest.split_once('/') {
        Some((h, p)) => (h, Some(p)),
        None => (rest, None),
    };
    if host.contains('@') {
        return Err(format!(
            "the location holds credentials (`…@{}`), which do not belong there (and are not repeated here); use --username and --password-stdin, or docker/podman login",
            host.rsplit('@').next().unwrap_or_default()
        ));
    }
    if !host.is_empty()
        && let Some(problem) = host_port_problem(host, Port::Reachable)
    {
        return Err(format!("`{host}`: {problem}"));
    }
    if !crate::oci::reference::valid_registry(host) {
        return Err(format!("`{host}` is not a registry host[:port]; {forms}"));
    }
    let prefix = path.map(parse_prefix).transpose()?;
    Ok(PushTarget {
        host: host.to_owned(),
        plain_http,
        prefix,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_ports_users_write_are_taken() {
        for ok in [
            "localhost",
            "localhost:5000",
            "10.0.0.5:443",
            "[::1]:5000",
            "[fe80::1]",
            "registry-1.docker.io",
            "Registry.Example.COM:5443",
            "host:1",
            "host:65535",
            "docker.io",
            "r2d2.example",
        ] {
            assert_eq!(host_port_problem(ok, Port::Reachable), None, "{ok}");
            assert_eq!(parse_registry(ok).as_deref(), Ok(ok), "{ok}");
        }
        for ok in ["127.0.0.1:0", "0.0.0.0:5000", "[::]:0", "[::1]:65535"] {
            assert!(parse_listen(ok).is_ok(), "{ok}");
        }
        assert_eq!(
            parse_push_target("http://127.0.0.1:5000/mirror"),
            Ok(PushTarget {
                host: "127.0.0.1:5000".into(),
                plain_http: true,
                prefix: Some("mirror".into()),
            })
        );
        assert!(parse_mirror("docker.io=mirror.local:5000").is_ok());
    }

    #[test]
    fn bad_hosts_and_ports_are_named() {
        for (bad, says) in [
            ("host:0", "port 0 is out of range"),
            ("host:65536", "port 65536 is out of range"),
            ("host:123456", "port 123456 is out of range"),
            ("host:", "no port after the `:`"),
            ("host:http", "port `http` is not a number"),
            ("256.0.0.1:5000", "not an IPv4 address"),
            ("10.0.0:5000", "not an IPv4 address"),
            ("a..b", "not a host name"),
            ("-a.b", "not a host name"),
            ("a-.b", "not a host name"),
            ("a_b", "not a host name"),
            (":5000", "no host before the port"),
            ("fe80::1", "goes in brackets"),
            ("[fe80::zz]:5000", "not an IPv6 address"),
            ("[::1:5000", "needs its `]`"),
            ("[::1]5000", "should be `:PORT`"),
            ("http://host:5000", "without `http://`"),
        ] {
            let problem = host_port_problem(bad, Port::Reachable).unwrap_or_default();
            assert!(problem.contains(says), "{bad}: {problem}");
        }
        assert!(parse_listen("127.0.0.1:65536").is_err());
        assert!(parse_listen("127.0.0.1").unwrap_err().contains("no port"));
        assert!(parse_advertise("site:0").is_err());
    }
}
