//! Log redaction. Services log Account IDs and client IPs only through these helpers;
//! keys, seeds, signatures and message bodies are never logged at all.

use std::fmt;
use std::net::IpAddr;

/// An Account ID (or any hex key) shortened to its first two bytes and last byte, like
/// `05ab…ef`: enough to correlate log lines, not enough to identify the account.
pub fn redact_id(hex_id: &str) -> String {
    let n = hex_id.len();
    if n <= 6 || !hex_id.is_ascii() {
        return "(redacted)".to_owned();
    }
    format!("{}…{}", &hex_id[..4], &hex_id[n - 2..])
}

/// An IP address with its host part hidden: `203.0.x.x` for IPv4, the first two groups
/// for IPv6.
pub fn redact_ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.x.x", o[0], o[1])
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => redact_ip(IpAddr::V4(v4)),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:…", s[0], s[1])
            }
        },
    }
}

/// `Display` wrapper that redacts an Account ID when formatted.
#[derive(Clone, Copy)]
pub struct RedactedId<'a>(pub &'a str);

impl fmt::Display for RedactedId<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact_id(self.0))
    }
}

impl fmt::Debug for RedactedId<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// `Display` wrapper that redacts an IP address when formatted.
#[derive(Clone, Copy)]
pub struct RedactedIp(pub IpAddr);

impl fmt::Display for RedactedIp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact_ip(self.0))
    }
}

impl fmt::Debug for RedactedIp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_shortened() {
        let id = "05d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72";
        assert_eq!(redact_id(id), "05d2…72");
        assert_eq!(RedactedId(id).to_string(), "05d2…72");
        assert_eq!(redact_id("05ab"), "(redacted)");
        assert!(!redact_id(id).contains("ad010eeb"));
    }

    #[test]
    fn ips_hide_the_host() {
        assert_eq!(redact_ip("203.0.113.77".parse().unwrap()), "203.0.x.x");
        assert_eq!(redact_ip("::ffff:10.1.2.3".parse().unwrap()), "10.1.x.x");
        assert_eq!(redact_ip("2001:db8::1".parse().unwrap()), "2001:db8:…");
    }
}
