//! Calendar time in UTC for display and HTTP headers, without a date-time crate: Unix
//! seconds broken down into a proleptic-Gregorian date and time of day.

/// A moment in UTC, broken down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UtcTime {
    /// The year (1970 for the epoch).
    pub year: i64,
    /// The month, 1–12.
    pub month: u32,
    /// The day of the month, 1–31.
    pub day: u32,
    /// Hours, 0–23.
    pub hour: u32,
    /// Minutes, 0–59.
    pub minute: u32,
    /// Seconds, 0–59.
    pub second: u32,
    /// The day of the week, 0 = Sunday … 6 = Saturday.
    pub weekday: u32,
}

const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

impl UtcTime {
    /// The moment `secs` seconds after 1970-01-01 00:00:00 UTC (negative: before).
    pub fn from_unix(secs: i64) -> Self {
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        // Howard Hinnant's days-to-civil algorithm.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        let small = |v: i64| u32::try_from(v).unwrap_or(0);
        Self {
            year,
            month: small(month),
            day: small(day),
            hour: small(rem / 3600),
            minute: small(rem % 3600 / 60),
            second: small(rem % 60),
            // 1970-01-01 was a Thursday.
            weekday: small((days + 4).rem_euclid(7)),
        }
    }

    /// The moment of `secs` fractional Unix seconds (the fraction dropped; non-finite or
    /// negative times read as the epoch).
    pub fn from_unix_f64(secs: f64) -> Self {
        let whole = if secs.is_finite() && secs > 0.0 {
            // Far below i64::MAX for any time a store holds.
            #[allow(clippy::cast_possible_truncation)]
            let t = secs.floor() as i64;
            t
        } else {
            0
        };
        Self::from_unix(whole)
    }

    /// `YYYY-MM-DD HH:MM`.
    pub fn minutes(&self) -> String {
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute
        )
    }

    /// `YYYY-MM-DD HH:MM:SS`.
    pub fn seconds(&self) -> String {
        format!("{}:{:02}", self.minutes(), self.second)
    }

    /// The HTTP date (RFC 9110 IMF-fixdate): `Thu, 01 Jan 1970 00:00:00 GMT`.
    pub fn http_date(&self) -> String {
        let weekday = WEEKDAYS
            .get(self.weekday as usize)
            .copied()
            .unwrap_or("Thu");
        let month = MONTHS
            .get((self.month as usize).saturating_sub(1))
            .copied()
            .unwrap_or("Jan");
        format!(
            "{weekday}, {:02} {month} {:04} {:02}:{:02}:{:02} GMT",
            self.day, self.year, self.hour, self.minute, self.second
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(
            UtcTime::from_unix(0).http_date(),
            "Thu, 01 Jan 1970 00:00:00 GMT"
        );
        assert_eq!(
            UtcTime::from_unix(784_111_777).http_date(),
            "Sun, 06 Nov 1994 08:49:37 GMT"
        );
        assert_eq!(
            UtcTime::from_unix(951_782_400).http_date(),
            "Tue, 29 Feb 2000 00:00:00 GMT"
        );
        assert_eq!(
            UtcTime::from_unix(1_700_000_000).seconds(),
            "2023-11-14 22:13:20"
        );
        assert_eq!(UtcTime::from_unix(-1).seconds(), "1969-12-31 23:59:59");
        assert_eq!(
            UtcTime::from_unix_f64(f64::NAN).minutes(),
            "1970-01-01 00:00"
        );
        assert_eq!(UtcTime::from_unix_f64(1_700_000_000.9).second, 20);
    }
}
