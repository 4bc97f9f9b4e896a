"""Inspection filings of the golden export story, which inspection needs before it clears."""

from typing import Any

from fastapi.testclient import TestClient

Headers = dict[str, str]
GOLDEN_EXPORT_GOODS = (
    ("XS-CJ-001", "6911101900", "醴陵釉下五彩瓷茶具"),
    ("XS-XX-002", "6214100000", "湘绣真丝围巾"),
)


def file_golden_export_goods(
    client: TestClient, ebc: Headers, inspector: Headers, *, quarantine: bool = False
) -> None:
    """File and approve the ebc 4301990002 and the two goods of the golden export list."""
    filing = client.post(
        "/api/v1/inspection/enterprise-filings",
        headers=ebc,
        json={
            "customs_code": "4900",
            "name": "长沙星沙贸易有限公司",
            "address": "长沙",
            "contact": "王五",
            "phone": "0731-80000000",
        },
    )
    assert filing.status_code == 201, filing.text
    client.post(
        f"/api/v1/inspection/enterprise-filings/{filing.json()['id']}/review",
        headers=inspector,
        json={"decision": "approve", "reason": "资料齐全"},
    )
    approve: dict[str, Any] = {"decision": "approve", "reason": "资料齐全"}
    if quarantine:
        approve["quarantine"] = True
    for item_no, gcode, name in GOLDEN_EXPORT_GOODS:
        goods = client.post(
            "/api/v1/inspection/goods-filings",
            headers=ebc,
            json={
                "item_no": item_no,
                "hs_code": gcode,
                "name": name,
                "brand": "湘品",
                "model": "标准款",
                "origin_country": "142",
                "manufacturer": "醴陵瓷厂",
                "supplier": "长沙星沙贸易有限公司",
                "ingredients": "瓷/桑蚕丝",
                "conformity_statement": "符合GB标准",
                "customs_code": "4900",
            },
        )
        assert goods.status_code == 201, goods.text
        reviewed = client.post(
            f"/api/v1/inspection/goods-filings/{goods.json()['id']}/review",
            headers=inspector,
            json=approve,
        )
        assert reviewed.status_code == 200, reviewed.text
