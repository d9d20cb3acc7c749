/// The element encodings adcat reads and writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum EncodingType {
    AnnData,
    Raw,
    DataFrame,
    Csr,
    Csc,
    Array,
    StringArray,
    NullableString,
    NullableInteger,
    NullableBoolean,
    Categorical,
    Dict,
    NumericScalar,
    String,
    Null,
}

impl EncodingType {
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "anndata" => Self::AnnData,
            "raw" => Self::Raw,
            "dataframe" => Self::DataFrame,
            "csr_matrix" => Self::Csr,
            "csc_matrix" => Self::Csc,
            "array" => Self::Array,
            "string-array" => Self::StringArray,
            "nullable-string-array" => Self::NullableString,
            "nullable-integer" => Self::NullableInteger,
            "nullable-boolean" => Self::NullableBoolean,
            "categorical" => Self::Categorical,
            "dict" => Self::Dict,
            "numeric-scalar" => Self::NumericScalar,
            "string" => Self::String,
            "null" => Self::Null,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::AnnData => "anndata",
            Self::Raw => "raw",
            Self::DataFrame => "dataframe",
            Self::Csr => "csr_matrix",
            Self::Csc => "csc_matrix",
            Self::Array => "array",
            Self::StringArray => "string-array",
            Self::NullableString => "nullable-string-array",
            Self::NullableInteger => "nullable-integer",
            Self::NullableBoolean => "nullable-boolean",
            Self::Categorical => "categorical",
            Self::Dict => "dict",
            Self::NumericScalar => "numeric-scalar",
            Self::String => "string",
            Self::Null => "null",
        }
    }

    /// The `encoding-version` values adcat understands.
    pub fn versions(self) -> &'static [&'static str] {
        match self {
            Self::AnnData | Self::Raw => &["0.1.0"],
            Self::DataFrame => &["0.2.0", "0.1.0"],
            Self::Csr | Self::Csc => &["0.1.0"],
            Self::Array | Self::StringArray => &["0.2.0"],
            Self::NullableString
            | Self::NullableInteger
            | Self::NullableBoolean
            | Self::Dict
            | Self::Null => &["0.1.0"],
            Self::Categorical | Self::NumericScalar | Self::String => &["0.2.0"],
        }
    }

    pub fn is_group(self) -> bool {
        !matches!(
            self,
            Self::Array | Self::StringArray | Self::NumericScalar | Self::String | Self::Null
        )
    }

    pub fn is_sparse(self) -> bool {
        matches!(self, Self::Csr | Self::Csc)
    }

    /// Parts of a group element that are plain arrays without encoding attributes.
    pub fn raw_parts(self) -> &'static [&'static str] {
        if self.is_sparse() {
            &["data", "indices", "indptr"]
        } else {
            &[]
        }
    }

    /// Parts a group element must have (beyond those named by its attributes).
    pub fn required_parts(self) -> &'static [&'static str] {
        match self {
            Self::Csr | Self::Csc => &["data", "indices", "indptr"],
            Self::Categorical => &["codes", "categories"],
            Self::NullableString | Self::NullableInteger | Self::NullableBoolean => {
                &["values", "mask"]
            }
            _ => &[],
        }
    }
}

impl std::fmt::Display for EncodingType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
