"""Schema loading and validation API (no reference files needed)."""

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from lxml import etree

from app.window.xmlsafe import parse_xml
from app.window.xsd import (
    SchemaLoadError,
    Schemas,
    SchemaSet,
    default_xsd_dir,
    load_schemas,
    schema_set_for,
)

CEB = "http://www.chinaport.gov.cn/ceb"


@pytest.fixture(scope="module")
def schemas() -> Schemas:
    return load_schemas(default_xsd_dir())


@pytest.mark.parametrize(
    ("message_type", "expected"),
    [
        ("CEB303", SchemaSet.EXPORT),
        ("CEB603Message", SchemaSet.EXPORT),
        ("CEB792", SchemaSet.EXPORT),
        ("CEB213Message", SchemaSet.EXPORT),
        ("CEB311", SchemaSet.IMPORT),
        ("CEB621Message", SchemaSet.IMPORT),
        ("CEB900", SchemaSet.IMPORT),
        ("CEB818Message", SchemaSet.IMPORT),
        (f"{{{CEB}}}CEB711Message", SchemaSet.IMPORT),
        ("DxpMsg", SchemaSet.DXP),
    ],
)
def test_schema_set_for(message_type: str, expected: SchemaSet) -> None:
    assert schema_set_for(message_type) is expected


@pytest.mark.parametrize(
    "message_type", ["CEB999", "CEB603Msg", "603", "ceb603", "CEB6033Message", "", "Order"]
)
def test_schema_set_for_unknown(message_type: str) -> None:
    with pytest.raises(KeyError):
        schema_set_for(message_type)


def test_default_xsd_dir_is_the_repository_folder() -> None:
    xsd_dir = default_xsd_dir()
    assert xsd_dir == Path(__file__).resolve().parents[2] / "xsd"
    for name in ("export/ceb-export.xsd", "import/ceb-import.xsd", "dxp/dxp.xsd"):
        assert (xsd_dir / name).is_file()
    assert SchemaSet("export") is SchemaSet.EXPORT


def _order_311(**overrides: str) -> etree._Element:
    """A minimal valid CEB311 built field by field (values placeholder but schema-valid)."""
    head = {
        "guid": "4CDE1CFD-EDED-46B1-946C-B8022E42FC94", "appType": "1",
        "appTime": "20240501100000", "appStatus": "2", "orderType": "I",
        "orderNo": "order-1", "ebpCode": "1105910159", "ebpName": "platform",
        "ebcCode": "1105910159", "ebcName": "shop", "goodsValue": "100.5", "freight": "0",
        "discount": "0", "taxTotal": "0", "acturalPaid": "100.5", "currency": "142",
        "buyerRegNo": "buyer", "buyerName": "张三", "buyerTelephone": "13800000000",
        "buyerIdType": "1", "buyerIdNumber": "110101199001011234", "consignee": "张三",
        "consigneeTelephone": "13800000000", "consigneeAddress": "北京市",
    }  # fmt: skip
    line = {
        "gnum": "1", "itemNo": "A1", "itemName": "box", "gmodel": "1 pc", "unit": "007",
        "qty": "1", "price": "100.5", "totalPrice": "100.5", "currency": "142", "country": "142",
    }  # fmt: skip
    head.update({k: v for k, v in overrides.items() if k in head})
    root = etree.Element(
        f"{{{CEB}}}CEB311Message", guid="A" * 36, version="1.0", nsmap={"ceb": CEB}
    )
    order = etree.SubElement(root, f"{{{CEB}}}Order")
    for parent, fields in ((f"{{{CEB}}}OrderHead", head), (f"{{{CEB}}}OrderList", line)):
        entity = etree.SubElement(order, parent)
        for name, value in fields.items():
            etree.SubElement(entity, f"{{{CEB}}}{name}").text = value
    transfer = etree.SubElement(root, f"{{{CEB}}}BaseTransfer")
    for name, value in [("copCode", "1105910159"), ("copName", "shop"), ("dxpMode", "DXP"),
                        ("dxpId", "DXPENT0000000001")]:  # fmt: skip
        etree.SubElement(transfer, f"{{{CEB}}}{name}").text = value
    return root


def test_valid_message(schemas: Schemas) -> None:
    assert schemas.validate(_order_311(), SchemaSet.IMPORT) == []


def test_every_error_is_reported_with_line_and_path(schemas: Schemas) -> None:
    source = etree.tostring(_order_311(guid="short", appTime="2024", currency="502"))
    root = parse_xml(source.replace(b"><", b">\n<"))
    issues = schemas.validate(root, SchemaSet.IMPORT)
    assert [i.path for i in issues] == [
        "/ceb:CEB311Message/ceb:Order/ceb:OrderHead/ceb:guid",
        "/ceb:CEB311Message/ceb:Order/ceb:OrderHead/ceb:appTime",
        "/ceb:CEB311Message/ceb:Order/ceb:OrderHead/ceb:currency",
    ]
    assert all(i.line and i.line > 3 for i in issues)
    assert "ceb:guid" in issues[0].message and "length" in issues[0].message
    assert "fixed value constraint" in issues[2].message
    assert "{" not in "".join(i.message for i in issues)


def test_same_document_different_sets(schemas: Schemas) -> None:
    issues = schemas.validate(_order_311(), SchemaSet.EXPORT)
    assert issues and "No matching global declaration" in issues[0].message


def test_validation_is_thread_safe(schemas: Schemas) -> None:
    good, bad = _order_311(), _order_311(appType="12")

    def run(i: int) -> int:
        return len(schemas.validate(bad if i % 2 else good, SchemaSet.IMPORT))

    with ThreadPoolExecutor(max_workers=4) as pool:
        counts = list(pool.map(run, range(200)))
    assert counts == [0, 1] * 100


def test_loading_refuses_network_imports(tmp_path: Path) -> None:
    xsd_dir = tmp_path / "xsd"
    shutil.copytree(default_xsd_dir(), xsd_dir, ignore=shutil.ignore_patterns("tools"))
    target = xsd_dir / "export" / "ceb-export.xsd"
    text = target.read_text(encoding="utf-8")
    target.write_text(
        text.replace(
            'schemaLocation="../xmldsig/xmldsig.xsd"', 'schemaLocation="http://127.0.0.1:9/x.xsd"'
        ),
        encoding="utf-8",
    )
    with pytest.raises(SchemaLoadError, match=r"refused .*http://127\.0\.0\.1:9/x\.xsd"):
        load_schemas(xsd_dir)


def test_loading_refuses_files_outside_the_folder(tmp_path: Path) -> None:
    xsd_dir = tmp_path / "xsd"
    shutil.copytree(default_xsd_dir(), xsd_dir, ignore=shutil.ignore_patterns("tools"))
    shutil.copy(xsd_dir / "xmldsig" / "xmldsig.xsd", tmp_path / "outside.xsd")
    target = xsd_dir / "dxp" / "dxp.xsd"
    text = target.read_text(encoding="utf-8")
    target.write_text(
        text.replace(
            'schemaLocation="../xmldsig/xmldsig.xsd"', 'schemaLocation="../../outside.xsd"'
        ),
        encoding="utf-8",
    )
    with pytest.raises(SchemaLoadError, match=r"outside\.xsd"):
        load_schemas(xsd_dir)


def test_loading_a_missing_folder_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(SchemaLoadError, match="cannot load"):
        load_schemas(tmp_path / "nowhere")
