//! Static tables the generator draws from: the organizations, people, devices, software and
//! attacker infrastructure of the demo world.
//!
//! The organizations are fictitious composites: realistic in form (sector, region, legal-form
//! suffixes, MLPS level, CII status), but not real entities. All of their domains end in
//! `-demo.cn`, mail goes to `*.example.cn`, public addresses come from the documentation
//! ranges 203.0.113.0/24 and 198.51.100.0/24, attackers from 192.0.2.0/24 and ordinary internet
//! users from the benchmarking range 198.18.0.0/15, so nothing here points at a real party.

use vigil_model::MiitEnterpriseType;

/// What kind of operator an organization is; decides its assets and its background traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    Grid,
    Water,
    Gas,
    Heat,
    Rail,
    Bank,
    Securities,
    Hospital,
    University,
    Gov,
    Chemical,
    Steel,
    Pharma,
    Manufacturing,
    Port,
    Telecom,
    Internet,
    Media,
    Retail,
}

impl Profile {
    /// Operates an industrial control network.
    pub fn industrial(self) -> bool {
        matches!(
            self,
            Self::Grid
                | Self::Water
                | Self::Gas
                | Self::Heat
                | Self::Rail
                | Self::Chemical
                | Self::Steel
                | Self::Pharma
                | Self::Manufacturing
                | Self::Port
        )
    }
}

/// One organization of the demo world.
pub struct OrgTemplate {
    pub name: &'static str,
    /// Short ASCII name used for host names and domains (`hzgrid` → `www.hzgrid-demo.cn`).
    pub slug: &'static str,
    pub sector: &'static str,
    pub region: &'static str,
    pub mlps: u8,
    pub cii: bool,
    pub miit: Option<(MiitEnterpriseType, u8)>,
    pub profile: Profile,
    /// 1 small, 2 medium, 3 large: weights asset counts and traffic.
    pub size: u8,
    /// First two characters of the USCC (registration authority and organ type), for the
    /// organizations that get one: `91` enterprise, `12` public institution, `11` state organ.
    pub uscc: Option<&'static str>,
}

use MiitEnterpriseType::{IdentifierResolution, NetworkedIndustrial, Platform};
use Profile::*;

const fn org(
    name: &'static str,
    slug: &'static str,
    sector: &'static str,
    region: &'static str,
    mlps: u8,
    cii: bool,
    miit: Option<(MiitEnterpriseType, u8)>,
    profile: Profile,
    size: u8,
    uscc: Option<&'static str>,
) -> OrgTemplate {
    OrgTemplate {
        name,
        slug,
        sector,
        region,
        mlps,
        cii,
        miit,
        profile,
        size,
        uscc,
    }
}

/// The organizations, most varied first: any prefix of this list (the tests use five) still
/// has an industrial operator, a bank, a hospital and a government portal.
pub const ORGS: &[OrgTemplate] = &[
    org(
        "浙江钱江电力有限公司杭州供电分公司",
        "hzgrid",
        "power",
        "330100",
        4,
        true,
        None,
        Grid,
        3,
        Some("91"),
    ),
    org(
        "江城农村商业银行股份有限公司",
        "jcrcb",
        "finance",
        "420100",
        3,
        true,
        None,
        Bank,
        3,
        Some("91"),
    ),
    org(
        "南京市秦淮区中心医院",
        "qhhosp",
        "healthcare",
        "320100",
        3,
        false,
        None,
        Hospital,
        2,
        Some("12"),
    ),
    org(
        "杭州市数据资源管理局（政务服务网）",
        "hzzwfw",
        "e_government",
        "330100",
        3,
        true,
        None,
        Gov,
        2,
        Some("11"),
    ),
    org(
        "青岛海清水务集团有限公司",
        "qdwater",
        "water",
        "370200",
        3,
        true,
        None,
        Water,
        2,
        Some("91"),
    ),
    org(
        "苏州市轨道交通运营有限公司",
        "szmetro",
        "transport",
        "320500",
        3,
        true,
        None,
        Rail,
        3,
        Some("91"),
    ),
    org(
        "宁波江北化工股份有限公司",
        "nbchem",
        "chemical",
        "330200",
        3,
        false,
        Some((NetworkedIndustrial, 2)),
        Chemical,
        2,
        Some("91"),
    ),
    org(
        "成都蜀燃城市燃气有限公司",
        "cdgas",
        "energy",
        "510100",
        3,
        true,
        None,
        Gas,
        2,
        Some("91"),
    ),
    org(
        "合肥滨湖科技大学",
        "hbust",
        "education",
        "340100",
        3,
        false,
        None,
        University,
        3,
        Some("12"),
    ),
    org(
        "武汉长江钢铁集团有限公司",
        "whsteel",
        "metallurgy",
        "420100",
        3,
        false,
        Some((NetworkedIndustrial, 3)),
        Steel,
        3,
        Some("91"),
    ),
    org(
        "深圳前湾港国际集装箱码头有限公司",
        "qwport",
        "transport",
        "440300",
        3,
        true,
        None,
        Port,
        2,
        Some("91"),
    ),
    org(
        "北京京联通信服务有限公司",
        "bjlink",
        "telecom",
        "110000",
        4,
        true,
        None,
        Telecom,
        3,
        Some("91"),
    ),
    org(
        "广州云途工业互联网科技有限公司",
        "gzyuntu",
        "internet",
        "440100",
        3,
        false,
        Some((Platform, 2)),
        Internet,
        2,
        Some("91"),
    ),
    org(
        "上海申康生物制药有限公司",
        "skpharma",
        "pharmaceutical",
        "310000",
        2,
        false,
        Some((NetworkedIndustrial, 1)),
        Pharma,
        2,
        None,
    ),
    org(
        "西安市大数据管理局",
        "xabigdata",
        "e_government",
        "610100",
        3,
        true,
        None,
        Gov,
        2,
        Some("11"),
    ),
    org(
        "福建闽电厦门供电有限公司",
        "xmgrid",
        "power",
        "350200",
        3,
        true,
        None,
        Grid,
        2,
        Some("91"),
    ),
    org(
        "深圳鹏城证券股份有限公司",
        "pcsec",
        "finance",
        "440300",
        4,
        true,
        None,
        Securities,
        2,
        Some("91"),
    ),
    org(
        "天津滨海新区自来水有限公司",
        "tjwater",
        "water",
        "120000",
        3,
        true,
        None,
        Water,
        2,
        None,
    ),
    org(
        "重庆两江新区中心医院",
        "ljhosp",
        "healthcare",
        "500000",
        3,
        false,
        None,
        Hospital,
        2,
        Some("12"),
    ),
    org(
        "大连海韵石化有限公司",
        "dlpetro",
        "chemical",
        "210200",
        3,
        false,
        Some((NetworkedIndustrial, 3)),
        Chemical,
        2,
        Some("91"),
    ),
    org(
        "南京智造精密机械有限公司",
        "njprec",
        "manufacturing",
        "320100",
        2,
        false,
        Some((NetworkedIndustrial, 1)),
        Manufacturing,
        1,
        None,
    ),
    org(
        "浙江东方职业技术学院",
        "zjdfvc",
        "education",
        "330100",
        2,
        false,
        None,
        University,
        1,
        Some("12"),
    ),
    org(
        "江苏苏通城市燃气有限公司",
        "stgas",
        "energy",
        "320500",
        3,
        true,
        None,
        Gas,
        1,
        None,
    ),
    org(
        "济南泉城轨道交通集团有限公司",
        "jnmetro",
        "transport",
        "370100",
        3,
        true,
        None,
        Rail,
        2,
        Some("91"),
    ),
    org(
        "长沙湘江村镇银行股份有限公司",
        "xjbank",
        "finance",
        "430100",
        3,
        false,
        None,
        Bank,
        1,
        None,
    ),
    org(
        "武汉光谷标识解析服务有限公司",
        "ovidr",
        "internet",
        "420100",
        3,
        false,
        Some((IdentifierResolution, 2)),
        Internet,
        1,
        Some("91"),
    ),
    org(
        "成都天府新区政务服务中心",
        "tfzwfw",
        "e_government",
        "510100",
        3,
        true,
        None,
        Gov,
        1,
        Some("11"),
    ),
    org(
        "青岛北海船舶重工有限公司",
        "bhship",
        "manufacturing",
        "370200",
        3,
        false,
        Some((NetworkedIndustrial, 2)),
        Steel,
        2,
        None,
    ),
    org(
        "广州南沙港物流有限公司",
        "nslog",
        "logistics",
        "440100",
        2,
        false,
        None,
        Port,
        1,
        None,
    ),
    org(
        "合肥庐州中医院",
        "lzhosp",
        "healthcare",
        "340100",
        2,
        false,
        None,
        Hospital,
        1,
        None,
    ),
    org(
        "西安秦川药业股份有限公司",
        "qcpharm",
        "pharmaceutical",
        "610100",
        2,
        false,
        Some((NetworkedIndustrial, 2)),
        Pharma,
        1,
        Some("91"),
    ),
    org(
        "上海浦江数字传媒有限公司",
        "pjmedia",
        "media",
        "310000",
        2,
        false,
        None,
        Media,
        1,
        None,
    ),
    org(
        "天津临港热电有限公司",
        "lgpower",
        "energy",
        "120000",
        3,
        true,
        None,
        Heat,
        2,
        Some("91"),
    ),
    org(
        "昆明滇池水务股份有限公司",
        "kmwater",
        "water",
        "530100",
        3,
        true,
        None,
        Water,
        1,
        None,
    ),
    org(
        "福州闽江连锁超市有限公司",
        "mjmart",
        "retail",
        "350100",
        1,
        false,
        None,
        Retail,
        1,
        None,
    ),
    org(
        "哈尔滨冰城热力集团有限公司",
        "hrbheat",
        "energy",
        "230100",
        3,
        true,
        None,
        Heat,
        1,
        None,
    ),
    org(
        "长春北方汽车零部件有限公司",
        "ccauto",
        "manufacturing",
        "220100",
        2,
        false,
        Some((NetworkedIndustrial, 1)),
        Manufacturing,
        1,
        Some("91"),
    ),
    org(
        "郑州中原云数据中心有限公司",
        "zyidc",
        "internet",
        "410100",
        3,
        false,
        None,
        Internet,
        1,
        None,
    ),
    org(
        "贵阳筑城大数据产业发展有限公司",
        "zcdata",
        "internet",
        "520100",
        3,
        false,
        None,
        Internet,
        1,
        Some("91"),
    ),
    org(
        "兰州西固化工有限公司",
        "xgchem",
        "chemical",
        "620100",
        2,
        false,
        Some((NetworkedIndustrial, 1)),
        Chemical,
        1,
        None,
    ),
];

/// Surnames with their pinyin.
pub const SURNAMES: &[(&str, &str)] = &[
    ("王", "wang"),
    ("李", "li"),
    ("张", "zhang"),
    ("刘", "liu"),
    ("陈", "chen"),
    ("杨", "yang"),
    ("赵", "zhao"),
    ("黄", "huang"),
    ("周", "zhou"),
    ("吴", "wu"),
    ("徐", "xu"),
    ("孙", "sun"),
    ("胡", "hu"),
    ("朱", "zhu"),
    ("高", "gao"),
    ("林", "lin"),
    ("何", "he"),
    ("郭", "guo"),
    ("马", "ma"),
    ("罗", "luo"),
    ("梁", "liang"),
    ("宋", "song"),
    ("郑", "zheng"),
    ("谢", "xie"),
    ("韩", "han"),
    ("唐", "tang"),
    ("冯", "feng"),
    ("于", "yu"),
    ("董", "dong"),
    ("萧", "xiao"),
];

/// Given names with their pinyin.
pub const GIVEN: &[(&str, &str)] = &[
    ("伟", "wei"),
    ("芳", "fang"),
    ("娜", "na"),
    ("敏", "min"),
    ("静", "jing"),
    ("丽", "li"),
    ("强", "qiang"),
    ("磊", "lei"),
    ("军", "jun"),
    ("洋", "yang"),
    ("勇", "yong"),
    ("艳", "yan"),
    ("杰", "jie"),
    ("涛", "tao"),
    ("明", "ming"),
    ("超", "chao"),
    ("秀英", "xiuying"),
    ("建华", "jianhua"),
    ("志强", "zhiqiang"),
    ("海燕", "haiyan"),
    ("俊杰", "junjie"),
    ("晓东", "xiaodong"),
    ("文博", "wenbo"),
    ("子涵", "zihan"),
    ("国栋", "guodong"),
    ("雪梅", "xuemei"),
    ("鹏飞", "pengfei"),
    ("立新", "lixin"),
    ("思远", "siyuan"),
    ("佳怡", "jiayi"),
];

pub const RESPONSIBLE_TITLES: &[&str] = &[
    "信息安全主管",
    "网络安全负责人",
    "信息中心主任",
    "首席信息安全官",
    "科技信息部总经理",
    "网络安全与信息化办公室主任",
];

pub const CONTACT_TITLES: &[&str] = &[
    "网络安全管理员",
    "系统运维工程师",
    "工控安全工程师",
    "信息科科长",
    "安全运营工程师",
    "值班联络员",
];

pub const DEPARTMENTS: &[&str] = &[
    "财务部",
    "人力资源部",
    "综合办公室",
    "信息中心",
    "生产技术部",
    "调度中心",
    "市场营销部",
    "安全监察部",
    "工程建设部",
    "运维部",
    "审计部",
    "采购部",
];

/// A software component: name, version, purl, CPE 2.3.
pub type Sw = (
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
);

pub const SW_CENTOS: Sw = (
    "CentOS Linux",
    "7.9.2009",
    Some("pkg:generic/centos@7.9.2009"),
    Some("cpe:2.3:o:centos:centos:7.9.2009:*:*:*:*:*:*:*"),
);
pub const SW_KYLIN: Sw = (
    "银河麒麟高级服务器操作系统 Kylin Server",
    "V10 SP2",
    None,
    Some("cpe:2.3:o:kylinos:kylin_server:v10:sp2:*:*:*:*:*:*"),
);
pub const SW_UBUNTU: Sw = (
    "Ubuntu Server",
    "20.04.6 LTS",
    Some("pkg:generic/ubuntu@20.04.6"),
    Some("cpe:2.3:o:canonical:ubuntu_linux:20.04:*:*:*:lts:*:*:*"),
);
pub const SW_WIN2012: Sw = (
    "Windows Server 2012 R2",
    "6.3.9600",
    None,
    Some("cpe:2.3:o:microsoft:windows_server_2012:r2:*:*:*:*:*:*:*"),
);
pub const SW_WIN2016: Sw = (
    "Windows Server 2016",
    "10.0.14393",
    None,
    Some("cpe:2.3:o:microsoft:windows_server_2016:-:*:*:*:*:*:*:*"),
);
pub const SW_WIN2019: Sw = (
    "Windows Server 2019",
    "10.0.17763",
    None,
    Some("cpe:2.3:o:microsoft:windows_server_2019:-:*:*:*:*:*:*:*"),
);
pub const SW_WIN10: Sw = (
    "Windows 10 企业版",
    "21H2",
    None,
    Some("cpe:2.3:o:microsoft:windows_10_21h2:-:*:*:*:*:*:x64:*"),
);
pub const SW_WIN7: Sw = (
    "Windows 7 专业版",
    "SP1",
    None,
    Some("cpe:2.3:o:microsoft:windows_7:-:sp1:*:*:*:*:*:*"),
);
pub const SW_UOS: Sw = ("统信UOS桌面操作系统", "20 专业版 1060", None, None);
pub const SW_OPENSSL: Sw = (
    "openssl",
    "1.1.1k",
    Some("pkg:generic/openssl@1.1.1k"),
    Some("cpe:2.3:a:openssl:openssl:1.1.1k:*:*:*:*:*:*:*"),
);
pub const SW_OPENSSL_OLD: Sw = (
    "openssl",
    "1.0.2k",
    Some("pkg:generic/openssl@1.0.2k"),
    Some("cpe:2.3:a:openssl:openssl:1.0.2k:*:*:*:*:*:*:*"),
);
pub const SW_OPENSSH: Sw = (
    "openssh",
    "7.4p1",
    Some("pkg:generic/openssh@7.4p1"),
    Some("cpe:2.3:a:openbsd:openssh:7.4:p1:*:*:*:*:*:*"),
);
pub const SW_NGINX: Sw = (
    "nginx",
    "1.18.0",
    Some("pkg:generic/nginx@1.18.0"),
    Some("cpe:2.3:a:f5:nginx:1.18.0:*:*:*:*:*:*:*"),
);
pub const SW_TOMCAT: Sw = (
    "Apache Tomcat",
    "8.5.56",
    Some("pkg:maven/org.apache.tomcat/tomcat-catalina@8.5.56"),
    Some("cpe:2.3:a:apache:tomcat:8.5.56:*:*:*:*:*:*:*"),
);
pub const SW_LOG4J: Sw = (
    "log4j-core",
    "2.14.1",
    Some("pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"),
    Some("cpe:2.3:a:apache:log4j:2.14.1:*:*:*:*:*:*:*"),
);
pub const SW_LOG4J_FIXED: Sw = (
    "log4j-core",
    "2.17.1",
    Some("pkg:maven/org.apache.logging.log4j/log4j-core@2.17.1"),
    Some("cpe:2.3:a:apache:log4j:2.17.1:*:*:*:*:*:*:*"),
);
pub const SW_FASTJSON: Sw = (
    "fastjson",
    "1.2.47",
    Some("pkg:maven/com.alibaba/fastjson@1.2.47"),
    Some("cpe:2.3:a:alibaba:fastjson:1.2.47:*:*:*:*:*:*:*"),
);
pub const SW_SHIRO: Sw = (
    "shiro-core",
    "1.2.4",
    Some("pkg:maven/org.apache.shiro/shiro-core@1.2.4"),
    Some("cpe:2.3:a:apache:shiro:1.2.4:*:*:*:*:*:*:*"),
);
pub const SW_SPRING: Sw = (
    "spring-core",
    "5.3.17",
    Some("pkg:maven/org.springframework/spring-core@5.3.17"),
    Some("cpe:2.3:a:vmware:spring_framework:5.3.17:*:*:*:*:*:*:*"),
);
pub const SW_WEBLOGIC: Sw = (
    "Oracle WebLogic Server",
    "12.2.1.3.0",
    None,
    Some("cpe:2.3:a:oracle:weblogic_server:12.2.1.3.0:*:*:*:*:*:*:*"),
);
pub const SW_PHP: Sw = (
    "php",
    "7.4.3",
    Some("pkg:generic/php@7.4.3"),
    Some("cpe:2.3:a:php:php:7.4.3:*:*:*:*:*:*:*"),
);
pub const SW_THINKPHP: Sw = (
    "ThinkPHP",
    "5.0.23",
    Some("pkg:composer/topthink/framework@5.0.23"),
    Some("cpe:2.3:a:thinkphp:thinkphp:5.0.23:*:*:*:*:*:*:*"),
);
pub const SW_JQUERY: Sw = (
    "jquery",
    "1.12.4",
    Some("pkg:npm/jquery@1.12.4"),
    Some("cpe:2.3:a:jquery:jquery:1.12.4:*:*:*:*:*:*:*"),
);
pub const SW_IIS: Sw = (
    "Microsoft IIS",
    "8.5",
    None,
    Some("cpe:2.3:a:microsoft:internet_information_services:8.5:*:*:*:*:*:*:*"),
);
pub const SW_DOTNET: Sw = (
    ".NET Framework",
    "4.5.2",
    None,
    Some("cpe:2.3:a:microsoft:.net_framework:4.5.2:*:*:*:*:*:*:*"),
);
pub const SW_MYSQL: Sw = (
    "MySQL Community Server",
    "5.7.33",
    Some("pkg:generic/mysql@5.7.33"),
    Some("cpe:2.3:a:oracle:mysql:5.7.33:*:*:*:*:*:*:*"),
);
pub const SW_ORACLE_DB: Sw = (
    "Oracle Database",
    "11.2.0.4",
    None,
    Some("cpe:2.3:a:oracle:database_server:11.2.0.4:*:*:*:*:*:*:*"),
);
pub const SW_MSSQL: Sw = (
    "Microsoft SQL Server 2014",
    "12.0.6024",
    None,
    Some("cpe:2.3:a:microsoft:sql_server_2014:-:sp3:*:*:*:x64:*:*"),
);
pub const SW_DM: Sw = ("达梦数据库 DM8", "8.1.2.128", None, None);
pub const SW_REDIS: Sw = (
    "redis",
    "5.0.7",
    Some("pkg:generic/redis@5.0.7"),
    Some("cpe:2.3:a:redis:redis:5.0.7:*:*:*:*:*:*:*"),
);
pub const SW_BIND: Sw = (
    "BIND",
    "9.11.4",
    Some("pkg:generic/bind@9.11.4"),
    Some("cpe:2.3:a:isc:bind:9.11.4:*:*:*:*:*:*:*"),
);
pub const SW_SEEYON: Sw = ("致远A8+协同管理软件", "V8.0SP2", None, None);
pub const SW_WEAVER: Sw = ("泛微e-cology协同办公", "9.0", None, None);
pub const SW_TONGDA: Sw = (
    "通达OA",
    "11.7",
    None,
    Some("cpe:2.3:a:tongda2000:office_anywhere:11.7:*:*:*:*:*:*:*"),
);
pub const SW_COREMAIL: Sw = ("Coremail XT 邮件系统", "5.0", None, None);
pub const SW_EXCHANGE: Sw = (
    "Microsoft Exchange Server 2016",
    "CU19",
    None,
    Some("cpe:2.3:a:microsoft:exchange_server:2016:cumulative_update_19:*:*:*:*:*:*"),
);
pub const SW_WINCC: Sw = (
    "SIMATIC WinCC",
    "7.5 SP2",
    None,
    Some("cpe:2.3:a:siemens:simatic_wincc:7.5:sp2:*:*:*:*:*:*"),
);
pub const SW_TIA: Sw = (
    "SIMATIC STEP 7 (TIA Portal)",
    "V16",
    None,
    Some("cpe:2.3:a:siemens:simatic_step7_tia_portal:16:*:*:*:*:*:*:*"),
);
pub const SW_KINGVIEW: Sw = ("亚控组态王 KingView", "7.5 SP3", None, None);
pub const SW_FORCECONTROL: Sw = ("三维力控 ForceControl", "V7.2", None, None);
pub const SW_IFIX: Sw = (
    "GE iFIX",
    "6.5",
    None,
    Some("cpe:2.3:a:ge:ifix:6.5:*:*:*:*:*:*:*"),
);
pub const SW_UNITY: Sw = ("EcoStruxure Control Expert (Unity Pro)", "15.0", None, None);
pub const SW_OKHTTP: Sw = (
    "okhttp",
    "3.12.0",
    Some("pkg:maven/com.squareup.okhttp3/okhttp@3.12.0"),
    Some("cpe:2.3:a:squareup:okhttp:3.12.0:*:*:*:*:*:*:*"),
);
pub const SW_JENKINS: Sw = (
    "Jenkins",
    "2.289.1",
    Some("pkg:generic/jenkins@2.289.1"),
    Some("cpe:2.3:a:jenkins:jenkins:2.289.1:*:*:*:lts:*:*:*"),
);

/// Server hardware: vendor, model, MAC OUI.
pub const SERVER_HW: &[(&str, &str, &str)] = &[
    ("华为 Huawei", "FusionServer 2288H V5", "00:e0:fc"),
    ("浪潮 Inspur", "NF5280M5", "6c:92:bf"),
    ("Dell", "PowerEdge R740", "b8:ca:3a"),
    ("新华三 H3C", "UniServer R4900 G3", "3c:8c:40"),
    ("曙光 Sugon", "I620-G30", "00:1e:67"),
    ("VMware", "VMware Virtual Platform", "00:50:56"),
];

/// Office PCs: vendor, model, MAC OUI.
pub const PC_HW: &[(&str, &str, &str)] = &[
    ("联想 Lenovo", "ThinkCentre M720t", "54:ee:75"),
    ("联想 Lenovo", "开天 M630Z", "54:ee:75"),
    ("Dell", "OptiPlex 7080", "b8:ca:3a"),
    ("惠普 HP", "ProDesk 400 G7", "3c:52:82"),
    ("清华同方 Tongfang", "超越 E500", "00:24:81"),
];

/// An industrial device model: vendor, model, firmware, firmware CPE, MAC OUI.
pub struct Device {
    pub vendor: &'static str,
    pub model: &'static str,
    pub firmware: &'static str,
    pub cpe: Option<&'static str>,
    pub oui: &'static str,
    /// What it speaks: `s7`, `modbus`, `cip`, `iec104`, `other`.
    pub proto: &'static str,
}

pub const PLCS: &[Device] = &[
    Device {
        vendor: "Siemens",
        model: "SIMATIC S7-1200 CPU 1214C DC/DC/DC",
        firmware: "V4.4.1",
        cpe: Some("cpe:2.3:o:siemens:simatic_s7-1200_cpu_1214c_firmware:4.4.1:*:*:*:*:*:*:*"),
        oui: "00:1b:1b",
        proto: "s7",
    },
    Device {
        vendor: "Siemens",
        model: "SIMATIC S7-1500 CPU 1516-3 PN/DP",
        firmware: "V2.9.4",
        cpe: Some(
            "cpe:2.3:o:siemens:simatic_s7-1500_cpu_1516-3_pn\\/dp_firmware:2.9.4:*:*:*:*:*:*:*",
        ),
        oui: "28:63:36",
        proto: "s7",
    },
    Device {
        vendor: "Schneider Electric",
        model: "Modicon M340 BMX P34 2020",
        firmware: "V3.30",
        cpe: Some("cpe:2.3:o:schneider-electric:modicon_m340_firmware:3.30:*:*:*:*:*:*:*"),
        oui: "00:80:f4",
        proto: "modbus",
    },
    Device {
        vendor: "Rockwell Automation",
        model: "ControlLogix 5580 1756-L83E",
        firmware: "V32.011",
        cpe: Some("cpe:2.3:o:rockwellautomation:controllogix_5580_firmware:32.011:*:*:*:*:*:*:*"),
        oui: "00:00:bc",
        proto: "cip",
    },
    Device {
        vendor: "和利时 HollySys",
        model: "LK210 大型PLC控制器",
        firmware: "V2.3.1",
        cpe: None,
        oui: "00:0a:dc",
        proto: "modbus",
    },
];

pub const DCS: &[Device] = &[
    Device {
        vendor: "浙江中控 SUPCON",
        model: "ECS-700 控制站 FCU711-S",
        firmware: "V4.1.2",
        cpe: None,
        oui: "00:0f:9e",
        proto: "modbus",
    },
    Device {
        vendor: "和利时 HollySys",
        model: "MACS V6.5 控制站 K-CU11",
        firmware: "V6.5.2",
        cpe: None,
        oui: "00:0a:dc",
        proto: "modbus",
    },
];

pub const RTUS: &[Device] = &[
    Device {
        vendor: "国电南瑞 NARI",
        model: "NSC2200E 远动通信装置",
        firmware: "V2.50",
        cpe: None,
        oui: "00:1e:cb",
        proto: "iec104",
    },
    Device {
        vendor: "北京四方 Sifang",
        model: "CSC-1321 远动装置",
        firmware: "V1.35",
        cpe: None,
        oui: "00:1c:2c",
        proto: "iec104",
    },
    Device {
        vendor: "Schneider Electric",
        model: "SCADAPack 357E RTU",
        firmware: "8.15.3",
        cpe: Some("cpe:2.3:o:schneider-electric:scadapack_357e_firmware:8.15.3:*:*:*:*:*:*:*"),
        oui: "00:80:f4",
        proto: "modbus",
    },
];

pub const HMIS: &[Device] = &[
    Device {
        vendor: "Siemens",
        model: "SIMATIC HMI TP1200 Comfort",
        firmware: "V16.0.0.0",
        cpe: None,
        oui: "00:1b:1b",
        proto: "s7",
    },
    Device {
        vendor: "Schneider Electric",
        model: "Harmony GTU HMIG5U",
        firmware: "V3.1",
        cpe: None,
        oui: "00:80:f4",
        proto: "modbus",
    },
    Device {
        vendor: "威纶通 Weintek",
        model: "cMT3151",
        firmware: "OS 20220615",
        cpe: None,
        oui: "00:0c:26",
        proto: "modbus",
    },
];

pub const IEDS: &[Device] = &[
    Device {
        vendor: "南京南瑞继保 NR Electric",
        model: "PCS-9705 测控装置",
        firmware: "V2.20",
        cpe: None,
        oui: "00:1e:cb",
        proto: "iec104",
    },
    Device {
        vendor: "Moxa",
        model: "MGate MB3180 Modbus网关",
        firmware: "V4.2",
        cpe: Some("cpe:2.3:o:moxa:mgate_mb3180_firmware:4.2:*:*:*:*:*:*:*"),
        oui: "00:90:e8",
        proto: "modbus",
    },
];

/// Network gear: vendor, model, firmware, role (`firewall`, `switch`, `router`, `vpn`), OUI.
pub const NET_FIREWALLS: &[(&str, &str, &str)] = &[
    ("华为 Huawei", "USG6650E", "V600R007C20SPC500"),
    ("新华三 H3C", "SecPath F1060", "E8371P05"),
    ("天融信 Topsec", "NGFW4000-UF TG-52E", "V3.3.019"),
    ("深信服 Sangfor", "AF-1000-B1500", "AF8.0.45"),
];
pub const NET_SWITCHES: &[(&str, &str, &str)] = &[
    (
        "华为 Huawei",
        "CloudEngine S6730-H48X6C",
        "V200R021C00SPC100",
    ),
    ("华为 Huawei", "S5735-L48T4X-A1", "V200R021C10"),
    ("新华三 H3C", "S6520X-54QC-EI", "Release 6635P07"),
    ("锐捷 Ruijie", "RG-S6120-48XS8CQ", "RGOS 11.4(1)B12"),
];

/// Popular domains office users resolve.
pub const POPULAR_DOMAINS: &[&str] = &[
    "www.baidu.com",
    "mp.weixin.qq.com",
    "res.wx.qq.com",
    "dns.weixin.qq.com",
    "oapi.dingtalk.com",
    "im.dingtalk.com",
    "www.gov.cn",
    "pan.baidu.com",
    "ntp.aliyun.com",
    "update.microsoft.com",
    "ctldl.windowsupdate.com",
    "dl.360safe.com",
    "s.360.cn",
    "www.163.com",
    "mail.163.com",
    "www.zhihu.com",
    "cdn.bootcdn.net",
    "down.qq.com",
    "wps.cn",
    "vip.kingsoft.com",
    "www.12306.cn",
    "www.chinatax.gov.cn",
    "www.cnki.net",
    "time.windows.com",
];

pub const BROWSER_UAS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/109.0.0.0 Safari/537.36 Edg/109.0.1518.78",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.44",
    "Mozilla/5.0 (Linux; Android 13; V2227A) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/98.0.4758.101 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
    "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
    "Sogou web spider/4.0(+http://www.sogou.com/docs/help/webmasters.htm#07)",
];

pub const WEB_PATHS: &[(&str, u16)] = &[
    ("/", 200),
    ("/index.html", 200),
    ("/static/css/main.css", 200),
    ("/static/js/jquery.min.js", 200),
    ("/static/js/app.js", 304),
    ("/images/banner1.jpg", 200),
    ("/images/logo.png", 304),
    ("/favicon.ico", 200),
    ("/news/list.html", 200),
    ("/news/detail.html?id=1024", 200),
    ("/xxgk/index.html", 200),
    ("/api/notice/latest", 200),
    ("/login", 200),
    ("/robots.txt", 404),
    ("/apple-touch-icon.png", 404),
];

/// Attacker-side domains (reserved `.example` TLD) used by the stories.
pub const C2_DOMAINS: &[&str] = &[
    "update.evil-c2.example",
    "cdn.msupdate-sync.example",
    "api.telemetry-report.example",
    "static.jquery-cdn.example",
];

pub const MINING_POOL: &str = "xmr.pool-demo.example";

/// Behinder/Godzilla-style webshell user agents.
pub const SHELL_UAS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:87.0) Gecko/20100101 Firefox/87.0",
    "Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/63.0.3239.132 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_14_3) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/12.0.3 Safari/605.1.15",
];

/// Paths a directory brute-forcer tries.
pub const DIRSCAN_PATHS: &[&str] = &[
    "/admin/",
    "/manager/html",
    "/console/login/LoginForm.jsp",
    "/phpmyadmin/",
    "/.git/config",
    "/.env",
    "/backup.zip",
    "/www.rar",
    "/web.config.bak",
    "/WEB-INF/web.xml",
    "/actuator/env",
    "/swagger-ui.html",
    "/druid/index.html",
    "/upload/",
    "/editor/fckeditor/",
    "/ueditor/net/controller.ashx",
    "/api/v1/users",
    "/solr/admin/",
    "/nacos/v1/auth/users",
    "/jenkins/login",
    "/seeyon/htmlofficeservlet",
    "/weaver/bsh.servlet.BshServlet",
    "/index.php?s=captcha",
    "/wls-wsat/CoordinatorPortType",
];

/// Suricata ET SCAN signatures: sid, message, target port (0 = varies).
pub const SCAN_SIGS: &[(u32, &str, u16)] = &[
    (2001219, "ET SCAN Potential SSH Scan", 22),
    (
        2010937,
        "ET SCAN Suspicious inbound to mySQL port 3306",
        3306,
    ),
    (
        2010935,
        "ET SCAN Suspicious inbound to MSSQL port 1433",
        1433,
    ),
    (
        2010936,
        "ET SCAN Suspicious inbound to Oracle SQL port 1521",
        1521,
    ),
    (2009582, "ET SCAN NMAP -sS window 1024", 0),
    (2024364, "ET SCAN Possible Nmap User-Agent Observed", 80),
    (2002911, "ET SCAN Potential VNC Scan 5900-5920", 5900),
    (
        2013479,
        "ET SCAN Behavioral Unusually fast Terminal Server Traffic Potential Scan or Infection (Inbound)",
        3389,
    ),
    (2023753, "ET SCAN Redis SSRF Probe", 6379),
];

/// Usernames attackers try.
pub const BRUTE_USERS_SSH: &[&str] = &[
    "root", "root", "root", "root", "admin", "oracle", "test", "ubuntu", "postgres", "git", "user",
    "ftpuser", "mysql", "nagios", "deploy",
];
pub const BRUTE_USERS_RDP: &[&str] = &[
    "administrator",
    "administrator",
    "administrator",
    "admin",
    "test",
    "user",
    "guest",
    "scanner",
    "backup",
    "sqlserver",
];
