//! Scopes: the part of a campaign an organizer sees, or a report covers: the whole campaign, or
//! one unit with its whole subtree.
//!
//! This module is the one home of the scope rules: how a scope is spelled on the wire and in
//! the record ([`WHOLE_CAMPAIGN`], `*`, or a unit id), its display name ([`WHOLE_CAMPAIGN_NAME`]
//! for the whole campaign), and which units a scope may look at ([`Scope::check`]) or change
//! ([`Scope::check_below`]). The HTTP layer parses the `unit` of a request into a [`Scope`], the
//! organizer's own scope comes from the record as one, and the SQL reports take one.
//!
//! `*` is also a data format outside Rust, which must not change with this type: the
//! `organizers.unit_id` column stores it for a national account, and the Lua scripts of
//! `safequiz-redis` (`attempt_prelude.lua`'s finalize) count the whole campaign's totals and
//! board under the unit `'*'`. Rust code names that spelling [`WHOLE_CAMPAIGN`], never a bare
//! literal.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::units::{UnitIx, UnitTree};

#[cfg(test)]
mod tests;

/// How the whole campaign is spelled where a unit id could stand: in requests and answers, in
/// the organizers table, and in the Redis totals and board keys the scripts write.
pub const WHOLE_CAMPAIGN: &str = "*";

/// The whole campaign's name as organizers read it.
pub const WHOLE_CAMPAIGN_NAME: &str = "全部单位";

/// The whole campaign, or one unit's subtree.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Every unit of the campaign.
    WholeCampaign,
    /// The unit with this id and every unit below it.
    Unit(String),
}

/// Why a scope cannot be had.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    /// The text names no scope: it is empty.
    #[error("a scope is a unit id or `*`, not empty text")]
    Empty,
    /// The campaign has no unit with this id.
    #[error("the campaign has no unit {0}")]
    UnknownUnit(String),
    /// The unit (or the whole campaign) lies outside the scope that asked.
    #[error("{0} is outside the scope")]
    OutOfScope(String),
    /// The scope's own unit, which only a scope above it may change.
    #[error("unit {0} is the scope's own unit, which only the level above may change")]
    OwnUnit(String),
}

impl Scope {
    /// The scope `text` names: [`WHOLE_CAMPAIGN`] (`*`) for the whole campaign, any other
    /// non-empty text for the unit with that id (whether the campaign has it is decided against
    /// its unit tree, by [`Scope::resolve`]).
    pub fn parse(text: &str) -> Result<Scope, ScopeError> {
        match text {
            "" => Err(ScopeError::Empty),
            WHOLE_CAMPAIGN => Ok(Scope::WholeCampaign),
            unit => Ok(Scope::Unit(unit.to_owned())),
        }
    }

    /// The scope of one unit's subtree.
    pub fn unit(id: impl Into<String>) -> Scope {
        Scope::Unit(id.into())
    }

    /// The wire form: `*` or the unit id.
    pub fn as_str(&self) -> &str {
        match self {
            Scope::WholeCampaign => WHOLE_CAMPAIGN,
            Scope::Unit(id) => id,
        }
    }

    /// The unit id, `None` for the whole campaign.
    pub fn unit_id(&self) -> Option<&str> {
        match self {
            Scope::WholeCampaign => None,
            Scope::Unit(id) => Some(id),
        }
    }

    /// Whether this is the whole campaign.
    pub fn is_whole_campaign(&self) -> bool {
        matches!(self, Scope::WholeCampaign)
    }

    /// The name organizers read: [`WHOLE_CAMPAIGN_NAME`], the unit's name in `tree`, or empty
    /// for a unit `tree` does not have.
    pub fn name<'t>(&self, tree: &'t UnitTree) -> &'t str {
        match self {
            Scope::WholeCampaign => WHOLE_CAMPAIGN_NAME,
            Scope::Unit(id) => tree.find(id).map_or("", |ix| tree.get(ix).name.as_str()),
        }
    }

    /// The unit of `tree` this scope names (`None`: the whole campaign).
    pub fn resolve(&self, tree: &UnitTree) -> Result<Option<UnitIx>, ScopeError> {
        match self {
            Scope::WholeCampaign => Ok(None),
            Scope::Unit(id) => tree
                .find(id)
                .map(Some)
                .ok_or_else(|| ScopeError::UnknownUnit(id.clone())),
        }
    }

    /// The unit `wanted` names (`None`: the whole campaign), when this scope may see it: the
    /// whole campaign sees everything, a unit its own subtree. A unit the campaign does not have
    /// is [`ScopeError::UnknownUnit`] whoever asks; anything else outside is
    /// [`ScopeError::OutOfScope`], also when this scope's own unit has left the tree.
    pub fn check(&self, tree: &UnitTree, wanted: &Scope) -> Result<Option<UnitIx>, ScopeError> {
        let target = wanted.resolve(tree)?;
        let allowed = match (self, target) {
            (Scope::WholeCampaign, _) => true,
            (Scope::Unit(own), Some(target)) => tree
                .find(own)
                .is_some_and(|own| tree.is_within(target, own)),
            (Scope::Unit(_), None) => false,
        };
        if allowed {
            Ok(target)
        } else {
            Err(ScopeError::OutOfScope(wanted.as_str().to_owned()))
        }
    }

    /// The unit `wanted` names, when this scope may change what belongs to it (a headcount):
    /// a unit this scope sees, other than this scope's own unit (the level above sets what it is
    /// judged by). The whole campaign may change any unit; no scope changes the whole campaign,
    /// which is no unit ([`ScopeError::UnknownUnit`] for the whole campaign's own scope).
    pub fn check_below(&self, tree: &UnitTree, wanted: &Scope) -> Result<UnitIx, ScopeError> {
        let ix = self
            .check(tree, wanted)?
            .ok_or_else(|| ScopeError::UnknownUnit(WHOLE_CAMPAIGN.to_owned()))?;
        match self {
            Scope::Unit(own) if tree.find(own) == Some(ix) => Err(ScopeError::OwnUnit(own.clone())),
            _ => Ok(ix),
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = ScopeError;

    fn from_str(text: &str) -> Result<Scope, ScopeError> {
        Scope::parse(text)
    }
}

/// Reads a stored scope (the record's `organizers.unit_id`).
impl TryFrom<String> for Scope {
    type Error = ScopeError;

    fn try_from(text: String) -> Result<Scope, ScopeError> {
        match text.as_str() {
            "" => Err(ScopeError::Empty),
            WHOLE_CAMPAIGN => Ok(Scope::WholeCampaign),
            _ => Ok(Scope::Unit(text)),
        }
    }
}

impl Serialize for Scope {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Scope, D::Error> {
        Scope::try_from(String::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}
