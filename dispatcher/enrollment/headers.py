"""Header names as people write them: which cell of a file's header row names which column.

Each column has the names a street office, a company or an engineer gives it, Chinese and
English. Cells are folded before matching (full-width to half-width, no spaces, no `*` or
"必填" marks, case ignored). An unknown cell is named with the closest known name; a header in
which two cells name one column is ambiguous and refused.
"""

from __future__ import annotations

import difflib
import re
import unicodedata

from dispatcher.enrollment.limits import ImportFileError

HEADER_SEARCH_ROWS = 10
_INVISIBLE = "\u200b\u200c\u200d\ufeff"
_MARKS = re.compile(r"\((必填|选填|可选|必须|required|optional)\)|必填|选填|[*_\-:：]")
# The first name of each column is the one files written by this program use.
HEADER_NAMES: dict[str, dict[str, tuple[str, ...]]] = {
    "elders": {
        "id_number": ("身份证号", "身份证号码", "身份证", "公民身份号码", "公民身份证号",
                      "公民身份证号码", "身份证件号码", "证件号码", "证件号", "身份号码",
                      "idnumber", "idno", "idcard"),
        "name": ("姓名", "老人姓名", "服务对象姓名", "对象姓名", "名字", "fullname"),
        "gender": ("性别", "sex"),
        "birth_date": ("出生日期", "出生年月", "出生年月日", "生日", "birthday", "birthdate",
                       "dateofbirth", "dob"),
        "phone": ("电话", "联系电话", "手机", "手机号", "手机号码", "电话号码", "联系方式",
                  "本人电话", "本人联系电话", "老人电话", "老人联系电话", "mobile", "tel",
                  "telephone", "phonenumber"),
        "other_phones": ("其他电话", "其它电话", "其他联系电话", "其它联系电话", "备用电话",
                         "座机", "座机号码", "固定电话", "家庭电话", "otherphone"),
        "address": ("地址", "住址", "家庭住址", "家庭地址", "居住地址", "现住址", "现居住地址",
                    "详细地址", "居住地", "homeaddress", "addr"),
        "street": ("街道", "所属街道", "街道办事处", "街道(乡镇)", "乡镇(街道)", "乡镇街道"),
        "community": ("社区", "所属社区", "社区(村)", "村(社区)", "社区居委会", "居委会"),
        "latitude": ("纬度", "lat"),
        "longitude": ("经度", "lng", "lon"),
        "elder_class": ("老人类别", "人员类别", "对象类别", "老人类型", "服务对象类别",
                        "补贴类别", "类别", "class", "eldertype"),
        "disability_level": ("失能等级", "失能程度", "能力等级", "自理能力", "能力评估等级",
                             "disability"),
        "lives_alone": ("独居", "是否独居", "独居老人", "是否独居老人", "livingalone",
                        "islivingalone", "alone"),
        "emergency_contact_name": ("紧急联系人", "紧急联系人姓名", "联系人", "联系人姓名",
                                   "家属姓名", "监护人", "监护人姓名", "contactname",
                                   "emergencycontact"),
        "emergency_contact_phone": ("紧急联系电话", "紧急联系人电话", "联系人电话",
                                    "紧急联系人手机", "紧急联系人联系电话", "联系人手机",
                                    "家属电话", "家属联系电话", "监护人电话", "监护人联系电话",
                                    "contactphone", "emergencyphone"),
        # Long-term care insurance (长护险), where the elders' columns have it.
        "insured": ("长护险", "参加长护险", "是否参加长护险", "是否参保长护险", "长期护理保险",
                    "isinsured"),
    },
    "providers": {
        "code": ("编号", "服务商编号", "企业编号", "机构编号"),
        "name": ("名称", "服务商名称", "企业名称", "机构名称", "单位名称"),
        "license_no": ("营业执照号", "统一社会信用代码", "营业执照号码", "信用代码", "licence"),
        "dispatch_phone": ("派单电话", "接单电话", "联系电话", "电话", "手机", "phone"),
        "address": ("地址", "企业地址", "机构地址", "办公地址", "住所"),
        "latitude": ("纬度", "lat"),
        "longitude": ("经度", "lng", "lon"),
        "service_radius_km": ("服务半径(公里)", "服务半径(km)", "服务半径", "服务范围(公里)",
                              "radiuskm", "radius"),
        "capacity_per_day": ("日接单量", "每日接单量", "日服务量", "每日容量", "capacity"),
        "hours": ("营业时间", "服务时间", "工作时间", "openinghours"),
    },
    "offerings": {
        "provider_code": ("服务商编号", "企业编号", "机构编号", "provider"),
        "item_code": ("服务项目编号", "项目编号", "项目代码", "服务项目代码", "item", "itemcode"),
        "price_yuan": ("价格(元)", "价格", "单价", "单价(元)", "服务价格", "服务价格(元)",
                       "协议价", "协议价(元)", "price"),
    },
    # Ability assessments (能力评估), where that kind of file exists.
    "assessments": {
        "id_number": ("身份证号", "身份证号码", "身份证", "公民身份号码", "证件号码"),
        "assessed_on": ("评估日期", "评估时间"),
        "level": ("评估等级", "能力等级", "失能等级", "评估结果"),
        "score": ("评估得分", "得分", "评估分数"),
        "assessor": ("评估人", "评估员"),
        "organisation": ("评估机构", "评估单位"),
        "valid_until": ("有效期至", "有效期", "有效期限"),
    },
    # A provider's workers on record (服务人员).
    "workers": {
        "provider_code": ("服务商编号", "服务商代码", "机构编号"),
        "name": ("姓名", "服务人员姓名", "护理员姓名"),
        "phone": ("手机", "手机号", "手机号码", "联系电话", "电话"),
        "id_number": ("身份证号", "身份证号码", "身份证", "公民身份号码"),
        "items": ("服务项目", "可做项目", "技能"),
        "work_number": ("工号", "员工编号", "工作证号"),
    },
    # Care plans (服务计划): a street enrolling its elders in a meal programme.
    "plans": {
        "id_number": ("身份证号", "身份证号码", "身份证", "公民身份号码"),
        "item": ("服务项目编码", "项目编码", "服务项目"),
        "rule": ("重复规则", "规则"),
        "at": ("服务时间", "时间"),
        "starts": ("开始日期", "首日"),
        "until": ("结束日期", "末日"),
        "provider": ("服务商编号", "服务商代码"),
        "duration": ("时长", "时长分钟"),
        "notes": ("备注",),
    },
}  # fmt: skip
# Columns of which one group or another must be present: an elder is placed by an address or
# by coordinates.
EITHER: dict[str, tuple[tuple[str, ...], ...]] = {
    "elders": (("address",), ("latitude", "longitude")),
}
# {kind: {Chinese name: column}}, each column's first name first (files this program writes).
CHINESE_HEADERS: dict[str, dict[str, str]] = {
    kind: {name: column for column, names in columns.items() for name in names if not name.isascii()}
    for kind, columns in HEADER_NAMES.items()
}


def normalise_header(text: str) -> str:
    """Fold a header cell for matching: full-width to half-width, no spaces, no required-marks."""
    folded = unicodedata.normalize("NFKC", text).strip().strip(_INVISIBLE).lower()
    return _MARKS.sub("", "".join(folded.split()))


def clean_text(text: str) -> str:
    return text.strip().strip(_INVISIBLE).strip()


class HeaderMap:
    """Which header cell names which column, for one kind of file."""

    def __init__(self, kind: str, columns: tuple[str, ...], optional: frozenset[str]):
        self.columns = columns
        either = EITHER.get(kind, ())
        grouped = {c for group in either for c in group}
        # Each requirement is met by any one of its groups of columns.
        self.requirements: list[tuple[tuple[str, ...], ...]] = [
            ((c,),) for c in columns if c not in optional and c not in grouped
        ]
        if either:
            self.requirements.append(either)
        self.names = {normalise_header(c): c for c in columns}
        for column in columns:
            for name in HEADER_NAMES.get(kind, {}).get(column, ()):
                self.names.setdefault(normalise_header(name), column)
        self._shown = {normalise_header(n): n for names in HEADER_NAMES.get(kind, {}).values()
                       for n in names if not n.isascii()}
        self._shown.update({normalise_header(c): c for c in columns})
        self.notes: list[str] = []

    def missing(self, known: set[str]) -> list[str]:
        return [" or ".join("+".join(g) for g in groups) for groups in self.requirements
                if not any(set(g) <= known for g in groups)]

    def locate(self, candidates: list[tuple[int, list[str]]]) -> tuple[int, dict[str, int]]:
        """Pick the header among the first rows; return its line and {column: cell index}."""
        best: tuple[int, int, list[str]] | None = None
        for line, cells in candidates:
            known = {self.names.get(normalise_header(c)) for c in cells} - {None}
            if not self.missing(known):
                positions = self.positions(line, cells)
                self.notes = self.unknown(cells)
                return line, positions
            if len(known) >= 2 and (best is None or len(known) > best[0]):
                best = (len(known), line, cells)
        if best is None:
            expected = ", ".join(self.missing(set())[:4])
            raise ImportFileError(
                f"no header row in the first {HEADER_SEARCH_ROWS} rows: expected columns such "
                f"as {expected} (or their Chinese names)"
            )
        _, line, cells = best
        known = {self.names.get(normalise_header(c)) for c in cells} - {None}
        hints = self.unknown(cells)
        raise ImportFileError(
            f"missing required columns: {', '.join(self.missing(known))} (header on row {line})"
            + (f"; {'; '.join(hints)}" if hints else "")
        )

    def positions(self, line: int, cells: list[str]) -> dict[str, int]:
        positions: dict[str, int] = {}
        seen: dict[str, list[str]] = {}
        for index, cell in enumerate(cells):
            column = self.names.get(normalise_header(cell))
            if column is None:
                continue
            seen.setdefault(column, []).append(cell.strip())
            positions.setdefault(column, index)
        doubled = {c: cells for c, cells in seen.items() if len(cells) > 1}
        if doubled:
            named = "; ".join(f"{c} ({', '.join(cells)})" for c, cells in doubled.items())
            raise ImportFileError(
                f"duplicate columns in the header on row {line}: {named}: the file is ambiguous, "
                "keep one column of each"
            )
        return positions

    def unknown(self, cells: list[str]) -> list[str]:
        """A sentence for each header cell that names no column, with the closest known name."""
        sentences = []
        for cell in cells:
            folded = normalise_header(cell)
            if not folded or folded in self.names:
                continue
            close = difflib.get_close_matches(folded, list(self._shown), n=1, cutoff=0.6)
            hint = f": did you mean {self._shown[close[0]]}?" if close else ""
            sentences.append(f"column {clean_text(cell)!r} is not read{hint}")
        return sentences
