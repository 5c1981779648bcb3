//! Canonical bencode ("bt") as Session uses it. Filled in by the wire work.
