//! Periodic cleanup (community-server spec §8). Not built yet.
