//! `Display` of [`MpiShared`]: pshmem's summary of an array.

use super::{MpiShared, Store};
use crate::element::Element;

impl<T: Element> std::fmt::Display for MpiShared<T> {
    /// pshmem's summary: where the array lives, its shape and type, and its
    /// leading and trailing values.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "<MpiShared")?;
        match &self.store {
            Store::Node(copy) => {
                let t = &copy.topology;
                let total = t.comm().size();
                match t.procs_per_node() {
                    Some(p) => writeln!(
                        f,
                        "  replicated on {} nodes, each with {p} processes ({total} total)",
                        t.nodes()
                    )?,
                    None => {
                        let sizes: Vec<String> =
                            t.node_sizes().iter().map(|s| s.to_string()).collect();
                        writeln!(
                            f,
                            "  replicated on {} nodes of {} processes ({total} total)",
                            t.nodes(),
                            sizes.join(", ")
                        )?
                    }
                }
            }
            Store::Local(_) => writeln!(f, "  local to this process (no MPI)")?,
            Store::Closed => writeln!(f, "  closed")?,
        }
        let dims: Vec<String> = self.shape.iter().map(|d| d.to_string()).collect();
        let comma = if dims.len() == 1 { "," } else { "" };
        writeln!(
            f,
            "  shape = ({}{comma}), dtype = {}",
            dims.join(", "),
            T::NAME
        )?;
        let view = self.view();
        let flat: Vec<T> = if view.len() <= 8 {
            view.iter().copied().collect()
        } else {
            let all: Vec<&T> = view.iter().collect();
            all[..3]
                .iter()
                .chain(&all[all.len() - 3..])
                .map(|&&x| x)
                .collect()
        };
        let fmt_vals = |vals: &[T]| {
            vals.iter()
                .map(|v| format!("{v:?}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        if view.len() <= 8 {
            writeln!(f, "  [ {} ]", fmt_vals(&flat))?;
        } else {
            writeln!(
                f,
                "  [ {} ... {} ]",
                fmt_vals(&flat[..3]),
                fmt_vals(&flat[3..])
            )?;
        }
        write!(f, ">")
    }
}

impl<T: Element> std::fmt::Debug for MpiShared<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}
