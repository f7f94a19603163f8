//! Redis Cluster's hash slots. A cluster keeps each key on the node that owns its slot, and a Lua
//! script may only touch keys of one slot, so keys that one script uses together must share a
//! hash tag (Redis's rule: the text between the first `{` and the first `}` after it, when that
//! text is not empty; otherwise the whole key is hashed).

/// Whether every key that starts with `prefix` is hashed by a tag inside `prefix` (so all such
/// keys share one slot, whatever follows).
pub fn prefix_pins_slot(prefix: &str) -> bool {
    let Some(open) = prefix.find('{') else {
        return false;
    };
    matches!(prefix[open + 1..].find('}'), Some(close) if close > 0)
}

/// A namespace for keys that must share one slot: `prefix:name` when `prefix` already pins the
/// slot (the user chose a tag, e.g. `{monitor}`), otherwise `prefix:{name}`.
///
/// Only for a `prefix` without braces or one that pins the slot ([`check_prefix`]): an unclosed
/// `{` or an empty `{}` would let the tag depend on what follows.
pub fn slot_namespace(prefix: &str, name: &str) -> String {
    if prefix_pins_slot(prefix) {
        format!("{prefix}:{name}")
    } else {
        format!("{prefix}:{{{name}}}")
    }
}

/// Refuses a prefix whose braces would spread keys meant to stay together over several slots.
pub fn check_prefix(prefix: &str) -> Result<(), String> {
    if prefix.contains(['{', '}']) && !prefix_pins_slot(prefix) {
        return Err(format!(
            "`{prefix}` has braces that are no Redis Cluster hash tag (an unclosed `{{` or an \
             empty `{{}}`); use a tag like `{{monitor}}` or no braces"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use fred::util::redis_keyslot;

    #[test]
    fn tags_in_the_prefix_are_kept() {
        assert!(prefix_pins_slot("{monitor}"));
        assert!(prefix_pins_slot("app:{m}:x"));
        assert!(!prefix_pins_slot("monitor"));
        assert!(!prefix_pins_slot("m{}"));
        assert!(!prefix_pins_slot("m{open"));
        assert_eq!(slot_namespace("{m}", "history:bull"), "{m}:history:bull");
        assert_eq!(slot_namespace("m", "history:bull"), "m:{history:bull}");
    }

    #[test]
    fn keys_under_a_namespace_share_one_slot() {
        for prefix in ["monitor", "{monitor}", "a:{b}:c"] {
            for name in ["history:bull", "history:{bull}", "history:}x", "history:{"] {
                let base = slot_namespace(prefix, name);
                let slot = redis_keyslot(base.as_bytes());
                for tail in [":lease", ":{emails}:cursor", ":q:m:60000", ""] {
                    let key = format!("{base}{tail}");
                    assert_eq!(redis_keyslot(key.as_bytes()), slot, "{key} vs {base}");
                }
            }
        }
    }

    #[test]
    fn braces_that_are_no_tag_are_refused() {
        assert!(check_prefix("monitor").is_ok());
        assert!(check_prefix("{monitor}").is_ok());
        assert!(check_prefix("m{}").is_err());
        assert!(check_prefix("m{x").is_err());
        assert!(check_prefix("m}x").is_err());
    }
}
