//! The parts of an agent's `Configuration` that say who the agent is (names, routing profile
//! with its queues, hierarchy groups, proficiencies): the input of `agent_profile` and
//! `queue_profile` (feed.md).
//!
//! Read leniently, like the rest of a snapshot: a value of an unexpected shape (a string where
//! an object belongs, a number in a list of names) reads as absent, so one odd field never costs
//! the agent its state. The wrappers [`Lenient`], [`LenientText`], [`LenientNumber`] and
//! [`LenientList`] do that; each writes back what it read.

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The visitor methods of every JSON kind a lenient value does not take: skipped, read as
/// `$absent`.
macro_rules! skip_other_kinds {
    ($absent:expr; $($kind:ident),*) => {
        $(skip_other_kinds!(@one $kind, $absent);)*
    };
    (@one bool, $absent:expr) => {
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> { Ok($absent) }
    };
    (@one u64, $absent:expr) => {
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> { Ok($absent) }
    };
    (@one i64, $absent:expr) => {
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> { Ok($absent) }
    };
    (@one f64, $absent:expr) => {
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> { Ok($absent) }
    };
    (@one str, $absent:expr) => {
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> { Ok($absent) }
    };
    (@one unit, $absent:expr) => {
        fn visit_unit<E>(self) -> Result<Self::Value, E> { Ok($absent) }
        fn visit_none<E>(self) -> Result<Self::Value, E> { Ok($absent) }
    };
    (@one seq, $absent:expr) => {
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok($absent)
        }
    };
    (@one map, $absent:expr) => {
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok($absent)
        }
    };
}

/// An object read as `T`, or `None` for any other JSON kind (`null`, a string, a list...).
/// `T`'s own fields must be lenient too, so that reading never fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lenient<T>(pub Option<T>);

impl<T> Default for Lenient<T> {
    fn default() -> Self {
        Self(None)
    }
}

impl<T> Lenient<T> {
    pub fn get(&self) -> Option<&T> {
        self.0.as_ref()
    }
}

impl<T: Serialize> Serialize for Lenient<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
            type Value = Lenient<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map)).map(|t| Lenient(Some(t)))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_any(self)
            }
            skip_other_kinds!(Lenient(None); bool, u64, i64, f64, str, unit, seq);
        }
        d.deserialize_any(ObjectVisitor(PhantomData))
    }
}

/// A string, or `None` for any other JSON kind. An empty string reads as `None` too (Connect
/// writes `""` and `null` alike for "not set").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LenientText(pub Option<String>);

impl LenientText {
    pub fn get(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

impl Serialize for LenientText {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for LenientText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = LenientText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E>(self, text: &str) -> Result<Self::Value, E> {
                Ok(LenientText((!text.is_empty()).then(|| text.to_owned())))
            }
            fn visit_string<E>(self, text: String) -> Result<Self::Value, E> {
                Ok(LenientText((!text.is_empty()).then_some(text)))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_any(self)
            }
            skip_other_kinds!(LenientText(None); bool, u64, i64, f64, unit, seq, map);
        }
        d.deserialize_any(TextVisitor)
    }
}

/// A JSON number as written (`3.0` stays `3.0`), or `None` for any other kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LenientNumber(pub Option<serde_json::Number>);

impl Serialize for LenientNumber {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for LenientNumber {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct NumberVisitor;
        impl<'de> Visitor<'de> for NumberVisitor {
            type Value = LenientNumber;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_u64<E>(self, n: u64) -> Result<Self::Value, E> {
                Ok(LenientNumber(Some(n.into())))
            }
            fn visit_i64<E>(self, n: i64) -> Result<Self::Value, E> {
                Ok(LenientNumber(Some(n.into())))
            }
            fn visit_f64<E>(self, n: f64) -> Result<Self::Value, E> {
                Ok(LenientNumber(serde_json::Number::from_f64(n)))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_any(self)
            }
            skip_other_kinds!(LenientNumber(None); bool, str, unit, seq, map);
        }
        d.deserialize_any(NumberVisitor)
    }
}

/// A list of lenient values (each element as its own type reads it), or empty for any other
/// JSON kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LenientList<T>(pub Vec<T>);

impl<T> Default for LenientList<T> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<T: Serialize> Serialize for LenientList<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for LenientList<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ListVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ListVisitor<T> {
            type Value = LenientList<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
                while let Some(item) = seq.next_element::<T>()? {
                    items.push(item);
                }
                Ok(LenientList(items))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_any(self)
            }
            skip_other_kinds!(LenientList(Vec::new()); bool, u64, i64, f64, str, unit, map);
        }
        d.deserialize_any(ListVisitor(PhantomData))
    }
}

/// Configuration.RoutingProfile.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RoutingProfile {
    #[serde(rename = "ARN", default)]
    pub arn: LenientText,
    #[serde(default)]
    pub name: LenientText,
    #[serde(default)]
    pub inbound_queues: LenientList<Lenient<QueueInfo>>,
    #[serde(default)]
    pub default_outbound_queue: Lenient<QueueInfo>,
}

/// A queue of a routing profile.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueueInfo {
    #[serde(rename = "ARN", default)]
    pub arn: LenientText,
    #[serde(default)]
    pub name: LenientText,
    /// `VOICE`, `CHAT`, `TASK`, ... (absent in older events).
    #[serde(default)]
    pub channels: LenientList<LenientText>,
}

/// Configuration.AgentHierarchyGroups: the agent's group at each level.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HierarchyGroups {
    #[serde(rename = "Level1", default)]
    pub level1: Lenient<HierarchyGroup>,
    #[serde(rename = "Level2", default)]
    pub level2: Lenient<HierarchyGroup>,
    #[serde(rename = "Level3", default)]
    pub level3: Lenient<HierarchyGroup>,
    #[serde(rename = "Level4", default)]
    pub level4: Lenient<HierarchyGroup>,
    #[serde(rename = "Level5", default)]
    pub level5: Lenient<HierarchyGroup>,
}

impl HierarchyGroups {
    /// The groups present, with their level (1 to 5), top level first.
    pub fn levels(&self) -> impl Iterator<Item = (u8, &HierarchyGroup)> {
        [&self.level1, &self.level2, &self.level3, &self.level4, &self.level5]
            .into_iter()
            .zip(1u8..)
            .filter_map(|(group, level)| group.get().map(|g| (level, g)))
    }
}

/// One hierarchy group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HierarchyGroup {
    #[serde(rename = "ARN", default)]
    pub arn: LenientText,
    #[serde(default)]
    pub name: LenientText,
}

/// One of Configuration.Proficiencies.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Proficiency {
    #[serde(default)]
    pub name: LenientText,
    #[serde(default)]
    pub value: LenientText,
    #[serde(default)]
    pub level: LenientNumber,
}

/// The last segment of an ARN (`.../queue/<id>` → `<id>`).
pub fn arn_id(arn: &str) -> &str {
    arn.rsplit_once('/').map_or(arn, |(_, last)| last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_shapes_read_as_absent_and_never_fail() {
        let profile: RoutingProfile = serde_json::from_str(
            r#"{"ARN": 7, "Name": ["x"], "InboundQueues": {"ARN": "q"},
                "DefaultOutboundQueue": "BasicQueue", "Concurrency": [{"Channel": "VOICE"}]}"#,
        )
        .unwrap();
        assert_eq!(profile, RoutingProfile::default());
        let queues: LenientList<Lenient<QueueInfo>> =
            serde_json::from_str(r#"[null, "q", {"ARN": "a/queue/q1", "Channels": ["VOICE", 3, null]}]"#).unwrap();
        let present: Vec<&QueueInfo> = queues.0.iter().filter_map(Lenient::get).collect();
        assert_eq!(present.len(), 1);
        let channels: Vec<&str> = present[0].channels.0.iter().filter_map(LenientText::get).collect();
        assert_eq!(channels, ["VOICE"]);
    }

    #[test]
    fn a_proficiency_level_keeps_the_number_as_written() {
        let p: Proficiency =
            serde_json::from_str(r#"{"Name": "Technology", "Value": "Kinesis", "Level": 3.0}"#).unwrap();
        assert_eq!(serde_json::to_string(&p.level).unwrap(), "3.0");
        let p: Proficiency = serde_json::from_str(r#"{"Name": "Technology", "Level": "high"}"#).unwrap();
        assert_eq!(p.level, LenientNumber(None));
    }

    #[test]
    fn hierarchy_levels_are_listed_top_down_with_their_level() {
        let groups: HierarchyGroups = serde_json::from_str(
            r#"{"Level3": {"ARN": "a/agent-group/g3", "Name": "Team"}, "Level1": {"ARN": "a/agent-group/g1", "Name": "Site"}, "Level2": null}"#,
        )
        .unwrap();
        let levels: Vec<(u8, Option<&str>)> = groups.levels().map(|(l, g)| (l, g.name.get())).collect();
        assert_eq!(levels, [(1, Some("Site")), (3, Some("Team"))]);
    }
}
