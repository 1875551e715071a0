//! Workspaces: what a request acts in ([`Actor`]) and the [`Role`] its person holds there.
//! A person's personal workspace has their id as its own, so acting in it needs no lookup
//! ([`Actor::personal`]).

use uuid::Uuid;

crate::text_enum! {
    /// What a member may do in a workspace, each role everything the one before may:
    /// viewers read; editors create, edit, generate, schedule and publish; admins also
    /// manage members, invitations, channels, slots, webhooks, feeds and API keys; owners
    /// also rename or delete the workspace and grant or remove `owner`.
    pub enum Role in "lowercase" { Viewer, Editor, Admin, Owner }
}

/// A person acting in a workspace: `user` makes rows (`user_id`), `workspace` owns them
/// (`workspace_id`, which row-level security compares).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    pub user: Uuid,
    pub workspace: Uuid,
}

impl Actor {
    /// `user` in their personal workspace.
    pub fn personal(user: Uuid) -> Self {
        Self {
            user,
            workspace: user,
        }
    }

    /// Whether this is the person's personal workspace.
    pub fn is_personal(self) -> bool {
        self.user == self.workspace
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_role_includes_the_ones_before() {
        assert!(Role::Viewer < Role::Editor);
        assert!(Role::Editor < Role::Admin);
        assert!(Role::Admin < Role::Owner);
        assert_eq!(Role::parse("admin"), Some(Role::Admin));
        assert_eq!(Role::parse("manager"), None);
    }
}
