"""Fake names shaped like the real thing: Chinese and English company names, contact names,
emails (example.com / example.cn) and phone numbers (the fictional US 555-01XX block)."""

from __future__ import annotations

import numpy as np

from helpers.data import schema

CN_CITIES = {
    "east": ("上海", "苏州", "杭州", "宁波", "南京", "无锡", "温州", "合肥"),
    "north": ("北京", "天津", "济南", "青岛", "石家庄", "太原", "沈阳", "大连"),
    "south": ("广州", "深圳", "东莞", "佛山", "厦门", "福州", "南宁", "海口"),
    "west": ("成都", "重庆", "西安", "昆明", "兰州", "贵阳", "乌鲁木齐", "银川"),
    "central": ("武汉", "长沙", "郑州", "南昌", "洛阳", "宜昌", "株洲", "襄阳"),
}
CN_BRANDS = (
    "恒达 鑫源 宏远 金泰 永盛 中科 瑞丰 德创 华信 天成 嘉禾 同创 盛世 联合 伟业 隆基 安泰 正泰 "
    "新华 东方 长城 飞扬 博远 凯盛 昌隆 兴业 汇通 鼎盛 立信 诚达 华东 精工 力拓 润通 富源 宝丰"
).split()
CN_INDUSTRY_WORDS = {
    "manufacturing": ("精密机械", "机械制造", "五金制品", "电子科技", "模具", "自动化设备"),
    "agriculture": ("农业科技", "农资", "生态农业", "种业", "农机", "果蔬"),
    "services": ("企业服务", "物业管理", "信息技术", "咨询", "人力资源", "物流"),
    "retail": ("商贸", "百货", "超市连锁", "贸易", "电子商务", "便利店"),
    "construction": ("建筑工程", "建材", "装饰工程", "市政工程", "钢结构", "安装工程"),
    "healthcare": ("医疗器械", "医药", "健康科技", "诊所管理", "生物科技", "康复设备"),
}
CN_SUFFIXES = ("有限公司", "有限公司", "有限公司", "股份有限公司", "有限责任公司")
EN_PREFIXES = (
    "Apex Summit Redwood Harbor Silverline Pioneer Granite Evergreen Bluewater Keystone "
    "Ironbridge Meridian Northgate Oakridge Riverside Sterling Horizon Crestview Lakeshore "
    "Westfield Brightway Cedar Falcon Beacon Pinnacle Union Atlas Orchard Highland Coastal"
).split()
EN_INDUSTRY_WORDS = {
    "manufacturing": (
        "Precision Machining",
        "Metalworks",
        "Components",
        "Fabrication",
        "Industrial",
    ),
    "agriculture": ("Agri Supply", "Farms", "Growers", "Seed & Feed", "Agritech"),
    "services": ("Business Services", "Facility Services", "Consulting", "IT Services", "Staffing"),
    "retail": ("Trading", "Retail", "Stores", "Merchandise", "Outlets"),
    "construction": (
        "Construction",
        "Builders",
        "Contracting",
        "Building Materials",
        "Civil Works",
    ),
    "healthcare": ("Medical Supply", "Clinics", "Health", "Diagnostics", "Care Partners"),
}
EN_SUFFIXES = ("Ltd.", "Inc.", "Co.", "LLC", "Group", "Corp.")
CN_SURNAMES = {
    "王": "wang", "李": "li", "张": "zhang", "刘": "liu", "陈": "chen", "杨": "yang",
    "黄": "huang", "赵": "zhao", "吴": "wu", "周": "zhou", "徐": "xu", "孙": "sun", "马": "ma",
    "朱": "zhu", "胡": "hu", "郭": "guo", "何": "he", "高": "gao", "林": "lin", "罗": "luo",
    "郑": "zheng", "梁": "liang", "谢": "xie", "宋": "song", "唐": "tang", "韩": "han",
    "冯": "feng", "邓": "deng", "曹": "cao", "彭": "peng",
}  # fmt: skip
CN_GIVEN = {
    "伟": "wei", "芳": "fang", "娜": "na", "敏": "min", "静": "jing", "丽": "li", "强": "qiang",
    "磊": "lei", "军": "jun", "洋": "yang", "勇": "yong", "艳": "yan", "杰": "jie", "娟": "juan",
    "涛": "tao", "明": "ming", "超": "chao", "霞": "xia", "平": "ping", "刚": "gang", "辉": "hui",
    "鹏": "peng", "华": "hua", "飞": "fei", "鑫": "xin", "波": "bo", "斌": "bin", "宇": "yu",
    "浩": "hao", "凯": "kai", "婷": "ting", "雪": "xue", "琳": "lin", "晨": "chen", "建": "jian",
    "国": "guo", "文": "wen", "志": "zhi", "海": "hai", "红": "hong",
}  # fmt: skip
EN_FIRST = (
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara "
    "Richard Susan Joseph Jessica Thomas Sarah Daniel Karen Matthew Nancy Anthony Lisa Mark "
    "Betty Steven Sandra Paul Ashley Andrew Emily Kevin Michelle Brian Laura George Amanda "
    "Edward Olivia Peter Grace Henry Chloe Oliver Hannah"
).split()
EN_LAST = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Wilson Anderson "
    "Taylor Thomas Moore Jackson Martin Lee Thompson White Harris Clark Lewis Robinson Walker "
    "Young Allen King Wright Scott Green Baker Adams Nelson Hill Campbell Mitchell Roberts "
    "Carter Phillips Evans Turner Parker Collins Edwards Stewart Morris Murphy Cook Rogers"
).split()
US_AREA_CODES = ("212", "312", "415", "617", "206", "303", "512", "404", "713", "602")
CN_MOBILE_PREFIXES = ("135", "136", "137", "138", "139", "150", "151", "158", "186", "188")


def company_names(
    rng: np.random.Generator, industry: np.ndarray, region: np.ndarray, chinese: np.ndarray
) -> list[str]:
    """Legal names: Chinese ("苏州恒达精密机械有限公司") or English ("Apex Metalworks Ltd.")."""
    n = len(industry)
    u = rng.integers(0, 1 << 30, size=(n, 4))
    out = []
    for i in range(n):
        ind = schema.INDUSTRIES[industry[i]]
        if chinese[i]:
            cities = CN_CITIES[schema.REGIONS[region[i]]]
            words = CN_INDUSTRY_WORDS[ind]
            out.append(
                cities[u[i, 0] % len(cities)]
                + CN_BRANDS[u[i, 1] % len(CN_BRANDS)]
                + words[u[i, 2] % len(words)]
                + CN_SUFFIXES[u[i, 3] % len(CN_SUFFIXES)]
            )
        else:
            words = EN_INDUSTRY_WORDS[ind]
            out.append(
                f"{EN_PREFIXES[u[i, 1] % len(EN_PREFIXES)]} {words[u[i, 2] % len(words)]} "
                f"{EN_SUFFIXES[u[i, 3] % len(EN_SUFFIXES)]}"
            )
    return out


def person_records(
    rng: np.random.Generator, contact_id: np.ndarray, chinese: np.ndarray
) -> tuple[list[str], list[str], list[str]]:
    """(name, email, phone) per contact. Emails use example.com / example.cn (RFC 2606 / 6761);
    US phones use the fictional 555-01XX block; Chinese mobiles are random digits."""
    n = len(contact_id)
    sur, sur_py = list(CN_SURNAMES), list(CN_SURNAMES.values())
    giv, giv_py = list(CN_GIVEN), list(CN_GIVEN.values())
    u = rng.integers(0, 1 << 30, size=(n, 4))
    two = rng.random(n) < 0.6
    digits = rng.integers(0, 10**8, size=n)
    names, emails, phones = [], [], []
    for i in range(n):
        tag = int(contact_id[i]) % 10000
        if chinese[i]:
            s, g1, g2 = u[i, 0] % len(sur), u[i, 1] % len(giv), u[i, 2] % len(giv)
            given, given_py = giv[g1], giv_py[g1]
            if two[i]:
                given, given_py = given + giv[g2], given_py + giv_py[g2]
            names.append(sur[s] + given)
            emails.append(f"{given_py}.{sur_py[s]}{tag}@example.cn")
            d = int(digits[i])
            phones.append(
                f"+86 {CN_MOBILE_PREFIXES[u[i, 3] % 10]} {d // 10000:04d} {d % 10000:04d}"
            )
        else:
            first, last = EN_FIRST[u[i, 0] % len(EN_FIRST)], EN_LAST[u[i, 1] % len(EN_LAST)]
            names.append(f"{first} {last}")
            emails.append(f"{first.lower()}.{last.lower()}{tag}@example.com")
            phones.append(f"+1 {US_AREA_CODES[u[i, 2] % 10]}-555-01{int(digits[i]) % 100:02d}")
    return names, emails, phones
