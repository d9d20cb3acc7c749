//! The standard benchmark matrix: which inputs each case concatenates, and how.

use std::path::{Path, PathBuf};

use super::generate::{Encoding, InputSpec};
use crate::store::Format;

/// Shapes of the generated inputs, relative to `--size`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Shape {
    /// 0.8 × size rows, size columns.
    Fat,
    /// size rows, 0.8 × size columns.
    Tall,
    /// size × size.
    Square,
    /// size × size with cell and gene names shifted by size / 2: joins with it reindex.
    Shift,
}

impl Shape {
    pub fn name(self) -> &'static str {
        match self {
            Shape::Fat => "fat",
            Shape::Tall => "tall",
            Shape::Square => "square",
            Shape::Shift => "shift",
        }
    }

    pub fn parse(text: &str) -> Option<Shape> {
        Some(match text {
            "fat" => Shape::Fat,
            "tall" => Shape::Tall,
            "square" => Shape::Square,
            "shift" => Shape::Shift,
            _ => return None,
        })
    }

    /// `--shapes square` also allows the shifted square.
    fn allowed_by(self, shapes: &[Shape]) -> bool {
        let base = if self == Shape::Shift {
            Shape::Square
        } else {
            self
        };
        shapes.contains(&self) || shapes.contains(&base)
    }
}

/// Input file formats of the matrix; each case runs once per format, and its output
/// has the same format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FileFormat {
    Zarr,
    H5ad,
}

impl FileFormat {
    pub fn name(self) -> &'static str {
        match self {
            FileFormat::Zarr => "zarr",
            FileFormat::H5ad => "h5ad",
        }
    }
    pub fn parse(text: &str) -> Option<FileFormat> {
        match text {
            "zarr" => Some(FileFormat::Zarr),
            "h5ad" => Some(FileFormat::H5ad),
            _ => None,
        }
    }
    /// Inputs are written as anndata writes by default (Zarr v2).
    pub fn store_format(self) -> Format {
        match self {
            FileFormat::Zarr => Format::ZarrV2,
            FileFormat::H5ad => Format::H5ad,
        }
    }
    pub fn suffix(self) -> &'static str {
        match self {
            FileFormat::Zarr => "zarr",
            FileFormat::H5ad => "h5ad",
        }
    }
}

/// Where a case's inputs come from.
#[derive(Clone, Debug, PartialEq)]
pub enum Inputs {
    /// Two (or more) of the standard shapes, all with one encoding.
    Shapes(Encoding, Vec<Shape>),
    /// Many small CSR files of size/5 × size/5 with distinct cells and shared genes.
    ManySmall { files: u64 },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Case {
    pub name: String,
    pub inputs: Inputs,
    /// 0: obs, 1: var.
    pub axis: u8,
    pub outer: bool,
}

impl Case {
    fn new(name: &str, encoding: Encoding, shapes: &[Shape], axis: u8, outer: bool) -> Case {
        Case {
            name: name.into(),
            inputs: Inputs::Shapes(encoding, shapes.to_vec()),
            axis,
            outer,
        }
    }

    pub fn join(&self) -> &'static str {
        if self.outer {
            "outer"
        } else {
            "inner"
        }
    }

    pub fn axis_name(&self) -> &'static str {
        if self.axis == 1 {
            "var"
        } else {
            "obs"
        }
    }

    /// One line saying what the case does, for the table.
    pub fn describe(&self) -> String {
        let what = match &self.inputs {
            Inputs::Shapes(e, shapes) => {
                let names: Vec<&str> = shapes.iter().map(|s| s.name()).collect();
                format!("{} {}", e.name(), names.join("+"))
            }
            Inputs::ManySmall { files } => format!("csr {files} small files"),
        };
        format!("{what}, {}, {}", self.axis_name(), self.join())
    }
}

/// Every case of the standard matrix, in table order.
pub fn standard(small_files: u64) -> Vec<Case> {
    use Encoding::*;
    use Shape::*;
    let mut cases = vec![
        Case::new("csr_obs", Csr, &[Fat, Square], 0, false),
        Case::new("csr_obs_reindex", Csr, &[Fat, Shift], 0, false),
        Case::new("csr_obs_outer", Csr, &[Fat, Shift], 0, true),
        Case::new("csc_var", Csc, &[Tall, Square], 1, false),
        Case::new("csc_var_outer", Csc, &[Tall, Shift], 1, true),
        Case::new("csr_var", Csr, &[Tall, Square], 1, false),
        Case::new("csc_obs", Csc, &[Fat, Square], 0, false),
        Case::new("dense_obs", Dense, &[Fat, Square], 0, false),
        Case::new("dense_var", Dense, &[Tall, Square], 1, false),
        Case::new("dense_obs_outer", Dense, &[Fat, Shift], 0, true),
        Case::new("dense_var_outer", Dense, &[Tall, Shift], 1, true),
    ];
    if small_files > 0 {
        cases.push(Case {
            name: "many_small".into(),
            inputs: Inputs::ManySmall { files: small_files },
            axis: 0,
            outer: false,
        });
    }
    cases
}

/// Cases whose shapes are all allowed; the many-files case has its own shape and stays.
pub fn select(cases: Vec<Case>, shapes: &[Shape], names: Option<&[String]>) -> Vec<Case> {
    cases
        .into_iter()
        .filter(|c| match &c.inputs {
            Inputs::Shapes(_, s) => s.iter().all(|s| s.allowed_by(shapes)),
            Inputs::ManySmall { .. } => true,
        })
        .filter(|c| names.is_none_or(|n| n.iter().any(|n| n == &c.name)))
        .collect()
}

/// The generated inputs at `size`: shape, names and seed of each.
pub fn input_spec(encoding: Encoding, shape: Shape, size: u64) -> InputSpec {
    let short = (size * 4 / 5).max(1);
    let (rows, cols, shift) = match shape {
        Shape::Fat => (short, size, 0),
        Shape::Tall => (size, short, 0),
        Shape::Square => (size, size, 0),
        Shape::Shift => (size, size, size / 2),
    };
    InputSpec {
        encoding,
        rows,
        cols,
        row_offset: shift,
        col_offset: shift,
        density: if encoding == Encoding::Dense {
            1.0
        } else {
            0.1
        },
        seed: 0x5EED ^ ((shape as u64) << 8) ^ encoding as u64,
    }
}

pub fn small_spec(size: u64, file: u64) -> InputSpec {
    let side = (size / 5).max(2);
    InputSpec {
        encoding: Encoding::Csr,
        rows: side,
        cols: side,
        row_offset: file * side,
        col_offset: 0,
        density: 0.1,
        seed: 0x5A11 ^ (file << 16),
    }
}

/// Paths and specs of a case's inputs under `data`.
pub fn inputs(
    case: &Case,
    data: &Path,
    format: FileFormat,
    size: u64,
) -> Vec<(PathBuf, InputSpec)> {
    let ext = format.suffix();
    match &case.inputs {
        Inputs::Shapes(encoding, shapes) => shapes
            .iter()
            .map(|&s| {
                let file = format!("{}_{}_{size}.{ext}", encoding.name(), s.name());
                (data.join(file), input_spec(*encoding, s, size))
            })
            .collect(),
        Inputs::ManySmall { files } => {
            let dir = data.join(format!("small_{size}"));
            (0..*files)
                .map(|i| (dir.join(format!("{i:04}.{ext}")), small_spec(size, i)))
                .collect()
        }
    }
}
