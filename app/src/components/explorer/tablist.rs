//! What the explorer's two tablists (states, and a job's tabs) share: arrow keys, Home and End
//! move the selection and the focus together, as the WAI-ARIA tabs pattern has it.

use leptos::prelude::*;

/// The tab a key moves to from `index` in a list of `count` tabs (wrapping), or `None` for a
/// key tabs do not handle.
pub fn key_target(key: &str, index: usize, count: usize) -> Option<usize> {
    match key {
        "ArrowRight" => Some((index + 1) % count),
        "ArrowLeft" => Some((index + count - 1) % count),
        "Home" => Some(0),
        "End" => Some(count - 1),
        _ => None,
    }
}

/// The buttons of one tablist, so a key can move the focus along with the selection.
#[derive(Clone, Copy)]
pub struct TabFocus {
    buttons: StoredValue<Vec<NodeRef<leptos::html::Button>>>,
}

impl TabFocus {
    pub fn new(count: usize) -> Self {
        TabFocus {
            buttons: StoredValue::new((0..count).map(|_| NodeRef::new()).collect()),
        }
    }

    /// The `node_ref` of tab `index`.
    pub fn node(&self, index: usize) -> NodeRef<leptos::html::Button> {
        self.buttons.with_value(|b| b[index])
    }

    pub fn focus(&self, index: usize) {
        if let Some(button) = self.node(index).get() {
            let _ = button.focus();
        }
    }

    /// The tab a key pressed on tab `index` selects (the key's default action is then
    /// prevented), or `None`.
    pub fn target(&self, index: usize, ev: &leptos::ev::KeyboardEvent) -> Option<usize> {
        let count = self.buttons.with_value(Vec::len);
        let target = key_target(&ev.key(), index, count)?;
        ev.prevent_default();
        Some(target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_move_along_the_tabs_and_wrap() {
        assert_eq!(key_target("ArrowRight", 0, 7), Some(1));
        assert_eq!(key_target("ArrowRight", 6, 7), Some(0));
        assert_eq!(key_target("ArrowLeft", 0, 7), Some(6));
        assert_eq!(key_target("Home", 4, 7), Some(0));
        assert_eq!(key_target("End", 1, 7), Some(6));
        assert_eq!(key_target("Enter", 1, 7), None);
    }
}
