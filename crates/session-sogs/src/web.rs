//! The web front page (community-server spec §5.9). Not built yet.
