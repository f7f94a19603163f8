//! Monitor roles and their order. Shared by the server (authorization) and the browser (which
//! controls to show), so both sides agree on what a role may do.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A role a JWT can carry. Declared in ascending order of power, so `Ord` is the privilege order:
/// `Moderator < Admin < SuperAdmin`. A token whose roles contain none of these has no access.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    /// Reads everything, operates nothing.
    Moderator,
    /// Reads and operates queues (pause, resume, clear, retry).
    Admin,
    /// Everything an admin can do; reserved for operations added later that need more trust.
    SuperAdmin,
}

impl Role {
    /// Every role, weakest first.
    pub const ALL: [Role; 3] = [Role::Moderator, Role::Admin, Role::SuperAdmin];

    /// Parses the exact claim spelling (`MODERATOR`, `ADMIN`, `SUPER_ADMIN`). Matching is
    /// case-sensitive on purpose: a role is an authorization decision, not free text.
    pub fn parse(value: &str) -> Option<Role> {
        match value {
            "MODERATOR" => Some(Role::Moderator),
            "ADMIN" => Some(Role::Admin),
            "SUPER_ADMIN" => Some(Role::SuperAdmin),
            _ => None,
        }
    }

    /// The claim spelling of this role.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Moderator => "MODERATOR",
            Role::Admin => "ADMIN",
            Role::SuperAdmin => "SUPER_ADMIN",
        }
    }

    /// Whether this role may operate queues (pause, resume, clear, retry).
    pub fn can_operate(self) -> bool {
        self >= Role::Admin
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Role::parse(value).ok_or_else(|| {
            format!("unknown role `{value}` (expected MODERATOR, ADMIN or SUPER_ADMIN)")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_by_privilege() {
        assert!(Role::Moderator < Role::Admin);
        assert!(Role::Admin < Role::SuperAdmin);
    }

    #[test]
    fn parse_accepts_only_exact_claim_spellings() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("admin"), None);
        assert_eq!(Role::parse("ROOT"), None);
        assert_eq!(Role::parse(""), None);
    }

    #[test]
    fn only_admins_and_above_operate() {
        assert!(!Role::Moderator.can_operate());
        assert!(Role::Admin.can_operate());
        assert!(Role::SuperAdmin.can_operate());
    }
}
