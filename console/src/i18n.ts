// English and Chinese: every visible string of the console, one table.
export type Lang = "en" | "zh";

const STRINGS = {
  title: ["Stockpilot console", "Stockpilot 运营台"],
  loginTitle: ["Sign in with your API key", "使用 API 密钥登录"],
  apiKey: ["API key", "API 密钥"],
  signIn: ["Sign in", "登录"],
  signOut: ["Sign out", "退出"],
  loginHelp: [
    "The key stays in this tab (sessionStorage) and is sent as x-api-key. Demo keys: sp-demo-viewer-key, sp-demo-ops-key, sp-demo-approver-key, sp-demo-approver-2-key.",
    "密钥只保存在本标签页（sessionStorage），以 x-api-key 发送。演示密钥：sp-demo-viewer-key、sp-demo-ops-key、sp-demo-approver-key、sp-demo-approver-2-key。",
  ],
  badKey: ["That key was refused", "该密钥被拒绝"],
  starting: ["The service is starting", "服务正在启动"],
  language: ["中文", "English"],
  languageLabel: ["Switch to Chinese", "切换到英文"],
  signedInAs: ["Signed in as {name} ({roles})", "当前用户 {name}（{roles}）"],
  tabInbox: ["Approvals", "待审批"],
  tabMap: ["Network map", "网络地图"],
  tabForecast: ["Forecast", "预测"],
  tabRuns: ["Runs & audit", "运行与审计"],
  chat: ["Chat", "对话"],
  mainNav: ["Views", "视图"],
  // inbox
  inboxEmpty: ["Nothing waits for a decision.", "没有待审批事项。"],
  inboxCount: ["{n} pending", "{n} 项待审批"],
  viewerNote: [
    "Your key may read but not decide (it needs the approver role).",
    "您的密钥只能查看，不能审批（需要 approver 角色）。",
  ],
  transfer: ["Transfer", "调拨"],
  markdown: ["Markdown", "降价"],
  expiresIn: ["expires in {t}", "{t} 后过期"],
  expired: ["expired", "已过期"],
  noExpiry: ["no expiry", "不过期"],
  requestedBy: ["asked by {who}", "申请人 {who}"],
  fourEyes: ["four-eyes: {done} of {need} approvers", "双人复核：{done}/{need} 位审批人"],
  fourEyesFirst: ["first approval by {who}; needs another approver", "{who} 已初审；需另一位审批人确认"],
  oneApprover: ["one approver", "一位审批人"],
  notRequester: ["not the requester", "不得为申请人"],
  style: ["Style", "款式"],
  total: ["Total", "合计"],
  units: ["units", "件"],
  unitsLabel: ["Units", "件数"],
  retailValue: ["Retail value", "零售价值"],
  marginSaved: ["Expected margin saved", "预计挽回毛利"],
  freight: ["Freight", "运费"],
  notAssessed: ["not assessed (no forecast)", "未评估（无预测）"],
  net: ["Net", "净值"],
  leadTime: ["Lead time", "在途时间"],
  hours: ["{n} h", "{n} 小时"],
  why: ["Why", "依据"],
  rainAlert: ["Rain: {mm} mm in {h} h in {city} ({band})", "降雨：{city} {h} 小时 {mm} 毫米（{band}）"],
  noRain: ["No rain alert behind this run", "此运行没有降雨预警"],
  forecastAtDest: [
    "Forecast at {dest}, next {days} days: {mean} units (baseline {base} × rain uplift {uplift})",
    "{dest} 未来 {days} 天预测：{mean} 件（基线 {base} × 降雨系数 {uplift}）",
  ],
  forecastLoading: ["Loading the forecast…", "正在加载预测…"],
  stockout: ["Days to stock-out at destination: {before} → {after}", "目的地断货天数：{before} → {after}"],
  policyRule: ["Policy rule", "策略规则"],
  reason: ["Reason", "原因"],
  approve: ["Approve", "批准"],
  reject: ["Reject", "拒绝"],
  edit: ["Edit quantities", "修改数量"],
  saveEdit: ["Send edit (re-checked by the gate)", "提交修改（重新经过策略检查）"],
  cancel: ["Cancel", "取消"],
  rejectReason: ["Reason for rejecting", "拒绝原因"],
  rejectSend: ["Send rejection", "确认拒绝"],
  reasonRequired: ["Say why you reject it", "请填写拒绝原因"],
  qtyFor: ["Units of {style} size {size}", "{style} 尺码 {size} 的件数"],
  groupNote: [
    "This run asks about {n} proposals together: choose for each, then send.",
    "此运行同时申请 {n} 项：逐项选择后一并提交。",
  ],
  sendDecisions: ["Send {n} decisions", "提交 {n} 项决定"],
  chosen: ["Chosen: {choice}", "已选：{choice}"],
  decided: ["{id}: {status}", "{id}：{status}"],
  working: ["Sending…", "提交中…"],
  editRejected: ["Edit refused: {why}", "修改被拒绝：{why}"],
  editDone: ["Edit sent: {what}", "已提交修改：{what}"],
  decidedElsewhere: ["{id} was decided elsewhere ({status})", "{id} 已在别处处理（{status}）"],
  // map
  city: ["City", "城市"],
  category: ["Category", "品类"],
  plan: ["Transfers shown", "显示的调拨"],
  planPending: ["Pending approvals", "待审批调拨"],
  planRecent: ["Recent orders", "最近的调拨单"],
  planNone: ["None", "不显示"],
  mapTitle: ["Stores and DCs of {city}: {category} stock health", "{city} 的门店与仓库：{category} 库存健康度"],
  legendCover: ["Cover days: red < 3, amber < 7, green ≥ 7, grey no sales", "可售天数：红 < 3，黄 < 7，绿 ≥ 7，灰 无销量"],
  legendShapes: ["square = DC, circle = store (size ∝ ATP), arrow = transfer", "方块 = 仓库，圆 = 门店（大小 ∝ 可售量），箭头 = 调拨"],
  rainOverlay: ["Rain band: {mm} mm / {h} h ({band}), alert {id}", "降雨带：{mm} 毫米/{h} 小时（{band}），预警 {id}"],
  noRainOverlay: ["No rain alert for this city", "该城市没有降雨预警"],
  location: ["Location", "地点"],
  kind: ["Kind", "类型"],
  onHand: ["On hand", "在库"],
  atp: ["ATP", "可售"],
  inTransit: ["In transit", "在途"],
  salesPerDay: ["Sales/day", "日销量"],
  coverDays: ["Cover days", "可售天数"],
  mapTable: ["Stock health per location", "各地点库存健康度"],
  // forecast
  forecastTitle: ["{what}: history, forecast and rain", "{what}：历史、预测与降雨"],
  allStyles: ["All styles", "全部款式"],
  allStores: ["Whole city", "全市"],
  rainScenario: ["Rain to assume (mm/day, first days)", "假设降雨（毫米/天，前几天）"],
  rainDays: ["Rain days", "降雨天数"],
  show: ["Show", "显示"],
  seriesHistory: ["Sold", "销量"],
  seriesMean: ["Forecast", "预测"],
  seriesBand: ["P10–P90", "P10–P90"],
  seriesBaseline: ["Baseline (dry)", "基线（无雨）"],
  seriesRain: ["Rain mm", "降雨 毫米"],
  model: ["Model: {model}", "模型：{model}"],
  bandNote: [
    "The band adds up each store's daily P10 and P90: wider than the city total's own band.",
    "区间为各门店每日 P10 与 P90 之和，比全市合计的区间更宽。",
  ],
  uplift: ["Rain uplift", "降雨系数"],
  date: ["Date", "日期"],
  chartTable: ["The chart's numbers", "图表数据"],
  // runs
  runs: ["Runs", "运行"],
  audit: ["Audit events", "审计事件"],
  trigger: ["Trigger", "触发"],
  status: ["Status", "状态"],
  created: ["Created", "创建时间"],
  timeline: ["Timeline of {id}", "{id} 的时间线"],
  stageTriage: ["Triage", "分诊"],
  stagePlan: ["Plan", "计划"],
  stageGate: ["Policy gate", "策略检查"],
  stageDecisions: ["Decisions", "审批"],
  stageWms: ["WMS", "仓储系统"],
  open: ["Open", "打开"],
  actor: ["Actor", "执行者"],
  kindCol: ["Event", "事件"],
  subject: ["Subject", "对象"],
  at: ["At", "时间"],
  evalReport: ["Eval report", "评测报告"],
  noEval: ["No eval report found.", "没有找到评测报告。"],
  refresh: ["Refresh", "刷新"],
  // chat
  chatPlaceholder: ["Ask about stock, forecasts or transfers", "询问库存、预测或调拨"],
  chatInput: ["Message", "消息"],
  send: ["Send", "发送"],
  newThread: ["New conversation", "新对话"],
  chatNeedsRole: ["Chat needs the ops role.", "对话需要 ops 角色。"],
  thinking: ["Working…", "处理中…"],
  you: ["You", "我"],
  assistant: ["Stockpilot", "Stockpilot"],
  example1: ["How many rain boots are in Shanghai?", "上海门店还有多少雨靴？"],
  example2: ["plan transfers for the rain in Shanghai", "上海下雨，计划调拨"],
  loading: ["Loading…", "加载中…"],
  error: ["Error: {msg}", "错误：{msg}"],
} satisfies Record<string, [string, string]>;

export type Key = keyof typeof STRINGS;

const LANG_ITEM = "stockpilot.lang";
let lang: Lang = (localStorage.getItem(LANG_ITEM) as Lang) || (navigator.language.startsWith("zh") ? "zh" : "en");

export function currentLang(): Lang {
  return lang;
}

export function setLang(next: Lang): void {
  lang = next;
  localStorage.setItem(LANG_ITEM, next);
  document.documentElement.lang = next === "zh" ? "zh-CN" : "en";
}

export function t(key: Key, vars: Record<string, string | number> = {}): string {
  const text = STRINGS[key][lang === "zh" ? 1 : 0];
  return text.replace(/\{(\w+)\}/g, (_, name: string) => String(vars[name] ?? `{${name}}`));
}

/** The CMA rain band of a day's (or an alert's) precipitation, in both languages. */
export function rainBand(mm: number): string {
  const bands: [number, string, string][] = [
    [50, "rainstorm", "暴雨"],
    [25, "heavy rain", "大雨"],
    [10, "moderate rain", "中雨"],
    [0.1, "light rain", "小雨"],
    [0, "dry", "无雨"],
  ];
  const band = bands.find(([floor]) => mm >= floor) ?? bands[bands.length - 1];
  return lang === "zh" ? band[2] : band[1];
}

export function named(row: { name_en: string; name_zh: string }): string {
  return lang === "zh" ? row.name_zh : row.name_en;
}
