//! The registry of finding codes (CONTRACT.md section 7).
//!
//! Codes are stable and never reused: a retired code stays here, marked, so that old
//! reports and `explain` keep meaning the same thing. The documentation of each code lives
//! in the doc comment of its rule (`rules/<code>.rs`) and is printed by `explain`.

use serde::{Deserialize, Serialize};

macro_rules! codes {
    ($($variant:ident => $code:literal, $name:literal;)*) => {
        /// A finding code such as `HD303`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code { $($variant,)* }

        impl Code {
            /// Every code, in table order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The code as written in reports, e.g. `"HD303"`.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $code,)* }
            }

            /// The stable kebab-case name, e.g. `"no-agents-logged-in"`.
            pub fn name(self) -> &'static str {
                match self { $(Code::$variant => $name,)* }
            }

            /// Looks a code up by its `HDnnn` form or its name (case-insensitive).
            pub fn parse(s: &str) -> Option<Code> {
                let s = s.trim();
                Code::ALL.iter().copied().find(|c| {
                    c.as_str().eq_ignore_ascii_case(s) || c.name().eq_ignore_ascii_case(s)
                })
            }
        }
    };
}

codes! {
    Hd101 => "HD101", "contact-id-missing";
    Hd102 => "HD102", "channel-not-voice";
    Hd103 => "HD103", "signal-auth-failed";
    Hd104 => "HD104", "signal-forbidden";
    Hd105 => "HD105", "signal-rejected";
    Hd106 => "HD106", "bot-runtime-error";
    Hd107 => "HD107", "handover-provider-error";
    Hd108 => "HD108", "transfer-failed";
    Hd109 => "HD109", "missing-context";
    Hd110 => "HD110", "session-timeout";
    Hd111 => "HD111", "exit-node-misconfigured";
    Hd112 => "HD112", "payload-template-error";
    Hd201 => "HD201", "contact-not-found";
    Hd202 => "HD202", "wrong-contact-signalled";
    Hd203 => "HD203", "caller-hung-up";
    Hd204 => "HD204", "not-routed-after-signal";
    Hd205 => "HD205", "abandoned-in-queue";
    Hd206 => "HD206", "agent-refused";
    Hd207 => "HD207", "transferred-elsewhere";
    Hd301 => "HD301", "skill-not-found";
    Hd302 => "HD302", "skill-inactive";
    Hd303 => "HD303", "no-agents-logged-in";
    Hd304 => "HD304", "no-agents-available";
    Hd305 => "HD305", "outside-hours";
    Hd306 => "HD306", "skill-wrong-media";
    Hd401 => "HD401", "handover-succeeded";
    Hd402 => "HD402", "data-pending";
    Hd501 => "HD501", "cxone-auth-failed";
    Hd502 => "HD502", "cxone-forbidden";
    Hd503 => "HD503", "cxone-unavailable";
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Code {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Code::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("unknown finding code {s}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_through_its_string_and_name() {
        for &c in Code::ALL {
            assert_eq!(Code::parse(c.as_str()), Some(c));
            assert_eq!(Code::parse(c.name()), Some(c));
        }
        assert_eq!(Code::ALL.len(), 30);
    }
}
