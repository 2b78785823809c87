//! The driver's progress bar for maps: drawn on stderr when stderr is a
//! terminal (indicatif hides it otherwise, so logs and test output stay
//! clean), and cleared when the map ends.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar over `tasks` tasks, or a hidden one when `show` is false.
pub(crate) fn bar(tasks: usize, show: bool) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(tasks as u64), ProgressDrawTarget::stderr());
    // The template is a constant: its parse cannot fail at run time unless
    // it is edited badly, which the unit test below catches.
    if let Ok(style) = ProgressStyle::with_template(TEMPLATE) {
        bar.set_style(style);
    }
    bar
}

const TEMPLATE: &str = "pool map {bar:40} {pos}/{len} tasks, {elapsed} (eta {eta})";

#[cfg(test)]
mod tests {
    #[test]
    fn the_template_parses() {
        assert!(indicatif::ProgressStyle::with_template(super::TEMPLATE).is_ok());
    }

    #[test]
    fn a_bar_counts_even_when_hidden() {
        let bar = super::bar(3, false);
        bar.inc(2);
        assert_eq!(bar.position(), 2);
    }
}
