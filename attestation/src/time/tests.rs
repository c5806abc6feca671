use super::*;

fn t(s: &str) -> UnixTime {
    UnixTime::parse(s).unwrap()
}

#[test]
fn known_instants() {
    assert_eq!(t("1970-01-01T00:00:00Z").as_secs(), 0);
    assert_eq!(t("2022-07-06T14:18:22Z").as_secs(), 1_657_117_102);
    assert_eq!(t("2000-02-29T12:00:00Z").as_secs(), 951_825_600);
    assert_eq!(t("2049-10-28T14:28:05Z").as_secs(), 2_519_044_085);
    assert_eq!(t("9999-12-31T23:59:59Z").as_secs(), MAX_SECS);
}

#[test]
fn unix_seconds_and_variants() {
    assert_eq!(t("1657117102"), t("2022-07-06T14:18:22Z"));
    assert_eq!(t("2022-07-06t14:18:22z"), t("2022-07-06T14:18:22Z"));
    assert_eq!(t("2022-07-06 14:18:22Z"), t("2022-07-06T14:18:22Z"));
    assert_eq!(t("2022-07-06T14:18:22.999Z"), t("2022-07-06T14:18:22Z"));
    assert_eq!(t("2022-07-06T16:18:22+02:00"), t("2022-07-06T14:18:22Z"));
    assert_eq!(t("2022-07-06T09:48:22-04:30"), t("2022-07-06T14:18:22Z"));
    assert_eq!(t("2016-12-31T23:59:60Z"), t("2016-12-31T23:59:59Z"));
}

#[test]
fn rejects_malformed() {
    for bad in [
        "",
        "2022-07",
        "2022-07-06",
        "2022-07-06T14:18Z",
        "2022-13-01T00:00:00Z",
        "2022-02-29T00:00:00Z",
        "2022-04-31T00:00:00Z",
        "2022-07-06T24:00:00Z",
        "2022-07-06T14:18:22",
        "2022-07-06T14:18:22.Z",
        "2022-07-06T14:18:22Zjunk",
        "2022-07-06T14:18:22+2:00",
        "1969-12-31T23:59:59Z",
        "1970-01-01T00:00:00+00:01",
        "99999999999999999999999",
        "253402300800",
        "２０２２-07-06T14:18:22Z",
        "-5",
    ] {
        assert!(UnixTime::parse(bad).is_err(), "accepted {bad:?}");
    }
}

#[test]
fn formats() {
    assert_eq!(UnixTime::EPOCH.to_string(), "1970-01-01T00:00:00Z");
    assert_eq!(
        UnixTime::from_secs(1_657_117_102).to_string(),
        "2022-07-06T14:18:22Z"
    );
    assert_eq!(format_millis(1_657_117_102_484), "2022-07-06T14:18:22.484Z");
    assert_eq!(format_millis(5), "1970-01-01T00:00:00.005Z");
    assert_eq!(
        UnixTime::from_secs(u64::MAX).to_string(),
        "9999-12-31T23:59:59Z"
    );
}

#[test]
fn round_trips_every_day_boundary_for_centuries() {
    // One probe per ~1.3 days from 1970 to 2500 covers every month, leap rule and era edge.
    let mut secs = 0u64;
    while secs < 16_725_225_600 {
        let time = UnixTime::from_secs(secs);
        assert_eq!(t(&time.to_string()), time);
        secs += 113_039;
    }
}
