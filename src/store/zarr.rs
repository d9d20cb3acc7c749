//! Zarr v2 and v3 stores through `zarrs`.
use super::*;

pub struct ZarrReader {}
impl ZarrReader {
    pub fn open(path: &Path) -> Result<Self> {
        todo!("{path:?}")
    }
}
pub struct ZarrWriter {}
impl ZarrWriter {
    pub fn create(path: &Path, format: Format) -> Result<Self> {
        todo!("{path:?} {format:?}")
    }
}

impl StoreReader for ZarrReader {
    fn path(&self) -> &Path {
        todo!()
    }
    fn format(&self) -> Format {
        todo!()
    }
    fn kind(&self, _node: &str) -> Result<Option<NodeKind>> {
        todo!()
    }
    fn children(&self, _group: &str) -> Result<Vec<String>> {
        todo!()
    }
    fn attrs(&self, _node: &str) -> Result<Attrs> {
        todo!()
    }
    fn array_info(&self, _node: &str) -> Result<ArrayInfo> {
        todo!()
    }
    fn read(&self, _node: &str, _start: &[u64], _shape: &[u64]) -> Result<Data> {
        todo!()
    }
}

impl StoreWriter for ZarrWriter {
    fn path(&self) -> &Path {
        todo!()
    }
    fn format(&self) -> Format {
        todo!()
    }
    fn create_group(&self, _node: &str, _attrs: &Attrs) -> Result<()> {
        todo!()
    }
    fn create_array(&self, _node: &str, _spec: &ArraySpec, _attrs: &Attrs) -> Result<()> {
        todo!()
    }
    fn write(&self, _node: &str, _start: &[u64], _shape: &[u64], _data: &Data) -> Result<()> {
        todo!()
    }
    fn resize(&self, _node: &str, _shape: &[u64]) -> Result<()> {
        todo!()
    }
    fn finish(&self) -> Result<()> {
        todo!()
    }
}
