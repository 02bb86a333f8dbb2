//! CSP `DateTime` values from the host's wall clock (CSP-REFERENCE §6.5): the basic
//! ISO-8601 form `20010925T134013Z`, always UTC.

/// Formats Unix milliseconds as `YYYYMMDDTHHMMSSZ` (digits written directly: every message
/// carries one, and `format!` costs more than the rest of the stamp).
pub fn format_utc(unix_ms: i64) -> String {
    let secs = unix_ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let mut out = *b"00000000T000000Z";
    let fields = [
        (0, 4, y),
        (4, 6, m),
        (6, 8, d),
        (9, 11, rem / 3600),
        (11, 13, rem % 3600 / 60),
        (13, 15, rem % 60),
    ];
    for (from, to, v) in fields {
        if let Some(slot) = out.get_mut(from..to) {
            put_digits(slot, v);
        }
    }
    String::from_utf8(out.to_vec()).unwrap_or_default()
}

/// Writes the last `out.len()` (at most 18) decimal digits of `v` (≥ 0), zero-padded.
#[inline]
fn put_digits(out: &mut [u8], v: i64) {
    let n = out.len().min(18) as u32;
    let mut rest = v.rem_euclid(10_i64.pow(n));
    for d in out.iter_mut().rev() {
        *d = b'0' + u8::try_from(rest % 10).unwrap_or(0);
        rest /= 10;
    }
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn digits_are_the_last_ones_zero_padded() {
        for v in [0, 7, 42, 1970, 12_345, -1, -2024, i64::MAX, i64::MIN + 1] {
            for n in 1..=6 {
                let mut digits = vec![0u8; n as usize];
                put_digits(&mut digits, v);
                let fast = String::from_utf8(digits).unwrap();
                let slow: String = (0..n)
                    .rev()
                    .map(|i| {
                        let digit = v.rem_euclid(10_i64.pow(i + 1)) / 10_i64.pow(i);
                        char::from(b'0' + u8::try_from(digit).unwrap_or(0))
                    })
                    .collect();
                assert_eq!(fast, slow, "{v} {n}");
            }
        }
    }

    #[test]
    fn known_instants() {
        assert_eq!(format_utc(0), "19700101T000000Z");
        assert_eq!(format_utc(1_001_425_213_000), "20010925T134013Z");
        assert_eq!(format_utc(951_782_400_000), "20000229T000000Z");
        assert_eq!(format_utc(-1000), "19691231T235959Z");
    }
}
