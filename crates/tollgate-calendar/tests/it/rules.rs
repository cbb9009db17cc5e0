//! The rule set the oracle test and the benchmark share, and the way to run
//! `scripts/rrule-oracle.py` (python-dateutil) over it.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use jiff::civil::DateTime;
use jiff::Timestamp;
use tollgate_calendar::{PeriodLength, Recurrence};

/// One period definition and the interval to expand it over.
#[derive(Debug, Clone)]
pub struct Case {
    pub tzid: &'static str,
    pub dtstart: String,
    pub length: &'static str,
    pub rule: Option<String>,
    pub exdates: Vec<String>,
    pub rdates: Vec<String>,
    pub from: &'static str,
    pub to: &'static str,
}

/// The oracle's horizon: four years.
const FROM: &str = "2026-01-01T00:00:00Z";
const TO: &str = "2030-01-01T00:00:00Z";

fn case(tzid: &'static str, dtstart: &str, length: &'static str, rule: &str) -> Case {
    Case {
        tzid,
        dtstart: dtstart.to_owned(),
        length,
        rule: (!rule.is_empty()).then(|| rule.to_owned()),
        exdates: Vec::new(),
        rdates: Vec::new(),
        from: FROM,
        to: TO,
    }
}

fn with_dates(mut case: Case, exdates: &[&str], rdates: &[&str]) -> Case {
    case.exdates = exdates.iter().map(|date| (*date).to_owned()).collect();
    case.rdates = rdates.iter().map(|date| (*date).to_owned()).collect();
    case
}

/// Rules across the daylight-saving zones of the tests (and a few stranger ones: Dublin's
/// negative summer offset, Lord Howe's half-hour change, Santiago's change at midnight), every
/// frequency from hourly to yearly, BYSETPOS, -1FR, BYMONTHDAY=-1, UNTIL in its three forms,
/// COUNT, EXDATE and RDATE.
pub fn rule_set() -> Vec<Case> {
    vec![
        case("Europe/Berlin", "2026-01-01T02:30:00", "PT1H", "FREQ=DAILY"),
        case("Europe/Berlin", "2026-03-20T02:30:00", "PT1H", "FREQ=DAILY;COUNT=400"),
        case("America/New_York", "2025-06-01T02:30:00", "PT1H", "FREQ=DAILY"),
        case("America/New_York", "2026-01-01T01:30:00", "PT2H", "FREQ=DAILY"),
        case("Australia/Sydney", "2024-01-01T02:30:00", "PT1H", "FREQ=DAILY"),
        case("Australia/Sydney", "2026-03-01T02:30:00", "PT1H", "FREQ=DAILY;COUNT=300"),
        case("Europe/Berlin", "2026-01-01T00:30:00", "PT30M", "FREQ=HOURLY;INTERVAL=5"),
        case("America/New_York", "2026-01-01T00:00:00", "PT15M", "FREQ=HOURLY;BYHOUR=1,2,3;BYMINUTE=15"),
        case("Europe/Berlin", "2026-01-01T18:00:00", "PT4H", "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1"),
        case("America/New_York", "2025-01-01T16:00:00", "PT3H", "FREQ=MONTHLY;BYDAY=-1FR"),
        case("Australia/Sydney", "2026-01-31T23:00:00", "PT2H", "FREQ=MONTHLY;BYMONTHDAY=-1"),
        case("Europe/Berlin", "2026-01-06T10:00:00", "PT2H", "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU"),
        case("Europe/Berlin", "2026-01-05T06:00:00", "PT1H", "FREQ=WEEKLY;BYDAY=MO,WE,FR;UNTIL=20280101T000000Z"),
        case("America/New_York", "2026-02-02T09:00:00", "PT8H", "FREQ=WEEKLY;COUNT=50"),
        case("Europe/Berlin", "2026-01-01T02:30:00", "PT1H", "FREQ=DAILY;UNTIL=20270315"),
        case("Europe/Berlin", "2026-01-04T02:30:00", "PT1H", "FREQ=WEEKLY;BYDAY=SU;UNTIL=20271031T023000"),
        with_dates(
            case("Europe/Berlin", "2026-01-01T14:00:00", "PT2H", "FREQ=WEEKLY;BYDAY=TH"),
            &["2026-01-08T14:00:00", "2026-12-24T14:00:00", "2026-12-31T14:00:00"],
            &["2026-12-23T09:00:00", "2027-03-28T02:30:00", "2026-01-15T14:00:00"],
        ),
        case("Europe/Berlin", "2025-12-20T00:00:00", "P15D", "FREQ=YEARLY"),
        case("Europe/Berlin", "2026-01-01T02:30:00", "PT1H", "FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU"),
        case("Europe/Berlin", "2026-01-01T02:30:00", "PT1H", "FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU"),
        case("America/New_York", "2026-01-01T02:30:00", "PT1H", "FREQ=MONTHLY;BYDAY=2SU"),
        case("Australia/Sydney", "2026-01-01T02:30:00", "PT1H", "FREQ=MONTHLY;BYDAY=1SU"),
        case("UTC", "2026-01-31T12:00:00", "PT1H", "FREQ=MONTHLY;BYMONTHDAY=31"),
        case("UTC", "2024-02-29T00:00:00", "P1D", "FREQ=YEARLY"),
        case("Asia/Tokyo", "2026-01-01T09:00:00", "PT9H", "FREQ=YEARLY;BYWEEKNO=1,20,53;BYDAY=MO"),
        case(
            "Europe/London",
            "2026-01-01T08:00:00",
            "PT1H",
            "FREQ=MONTHLY;INTERVAL=3;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=1,-1",
        ),
        case("America/Chicago", "2026-01-01T22:00:00", "PT8H", "FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR"),
        with_dates(
            case("Europe/Berlin", "2026-03-27T18:00:00", "P3D", ""),
            &[],
            &["2026-10-23T18:00:00", "2027-03-26T18:00:00"],
        ),
        case("Europe/Berlin", "2026-01-01T02:30:00", "PT20M", "FREQ=DAILY;BYHOUR=2,3;BYMINUTE=30"),
        case("America/Santiago", "2026-01-01T00:00:00", "P1D", "FREQ=DAILY"),
        case("Asia/Kolkata", "2026-01-07T11:30:00", "PT90M", "FREQ=WEEKLY;BYDAY=WE,SA"),
        case("Australia/Lord_Howe", "2026-01-01T01:45:00", "PT1H", "FREQ=DAILY"),
        case("Australia/Lord_Howe", "2026-01-01T02:15:00", "PT1H", "FREQ=DAILY"),
        case("Europe/Dublin", "2026-01-01T01:30:00", "PT1H", "FREQ=DAILY"),
        with_dates(
            case("Europe/Berlin", "2026-03-25T02:30:00", "PT1H", "FREQ=DAILY;COUNT=10"),
            &["2026-03-29T02:30:00", "2026-03-30T02:30:00"],
            &[],
        ),
        case("UTC", "2026-01-04T07:00:00", "PT1H", "FREQ=WEEKLY;WKST=SU;INTERVAL=2;BYDAY=SU,TU"),
        case("America/New_York", "2026-01-01T09:00:00", "PT30M", "FREQ=MONTHLY;BYMONTHDAY=1,15;BYHOUR=9,17"),
        case("Europe/Berlin", "2026-01-01T00:00:00", "P1DT6H", "FREQ=MONTHLY;BYDAY=-1SU"),
        case("America/New_York", "2026-01-01T02:00:00", "P2D", "FREQ=YEARLY;BYMONTH=3,11;BYDAY=1SU,2SU"),
        case("Europe/Berlin", "2020-01-01T03:00:00", "PT2H", "FREQ=WEEKLY;INTERVAL=3;BYDAY=SU;UNTIL=20290101"),
    ]
}

impl Case {
    /// The compiled recurrence.
    pub fn recurrence(&self) -> Recurrence {
        let local = |text: &String| text.parse::<DateTime>().expect("a civil date-time");
        Recurrence::new(
            self.tzid,
            local(&self.dtstart),
            self.length.parse::<PeriodLength>().expect("a length"),
            self.rule.as_deref(),
            self.exdates.iter().map(local).collect(),
            self.rdates.iter().map(local).collect(),
        )
        .unwrap_or_else(|error| panic!("{self:?}: {error}"))
    }

    pub fn from(&self) -> Timestamp {
        self.from.parse().expect("an instant")
    }

    pub fn to(&self) -> Timestamp {
        self.to.parse().expect("an instant")
    }

    fn json(&self) -> serde_json::Value {
        let length: PeriodLength = self.length.parse().expect("a length");
        serde_json::json!({
            "tzid": self.tzid,
            "dtstart": self.dtstart,
            "days": length.calendar_days(),
            "seconds": length.elapsed_time().as_secs(),
            "rule": self.rule,
            "exdates": self.exdates,
            "rdates": self.rdates,
            "from": self.from,
            "to": self.to,
        })
    }
}

/// The Python to run the oracle with: `TOLLGATE_TEST_PYTHON`, or the venv .ci/run prepares.
/// Fails when it cannot import dateutil: the comparison must never be skipped silently.
pub fn python() -> PathBuf {
    let python = std::env::var_os("TOLLGATE_TEST_PYTHON").map(PathBuf::from).unwrap_or_else(|| {
        let home = std::env::var_os("HOME").expect("HOME is set");
        Path::new(&home).join(".cache/tollgate-venv/bin/python")
    });
    let works = Command::new(&python)
        .args(["-c", "import dateutil.rrule, zoneinfo"])
        .status()
        .is_ok_and(|status| status.success());
    assert!(
        works,
        "{} cannot import dateutil: set TOLLGATE_TEST_PYTHON to a Python with python-dateutil, \
         or run scripts/ensure-venv.sh",
        python.display()
    );
    python
}

/// Runs `scripts/rrule-oracle.py` with `args` over `cases` and returns its standard output.
pub fn run_oracle(cases: &[Case], args: &[&str]) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/rrule-oracle.py");
    let input = serde_json::Value::Array(cases.iter().map(Case::json).collect()).to_string();
    let mut child = Command::new(python())
        .arg(&script)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the oracle starts");
    child.stdin.take().expect("a stdin").write_all(input.as_bytes()).expect("the oracle reads its cases");
    let output = child.wait_with_output().expect("the oracle runs");
    assert!(output.status.success(), "the oracle failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("the oracle prints UTF-8")
}
