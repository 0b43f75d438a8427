// The widget's words in its two locales; functions take counts.
const STRINGS = {
  en: {
    join: "Join",
    start: "Start a group",
    needed: (n) => (n === 1 ? "1 more person needed" : `${n} more people needed`),
    size: (n) => `Group of ${n}`,
    OPEN: "Open",
    FILLED: "Group filled",
    FAILED: "Group failed: everyone was refunded",
    CANCELLED: "Group cancelled",
    ended: "This offer has ended",
    noGroups: "No open groups yet: start one",
    unavailable: "Group buy unavailable",
    minutesLeft: (n) => `${n} minutes left`,
    groupPriceLabel: "Group price",
    soloPriceLabel: "Solo price",
  },
  "zh-CN": {
    join: "去参团",
    start: "发起拼单",
    needed: (n) => `还差${n}人`,
    size: (n) => `${n}人团`,
    OPEN: "拼团中",
    FILLED: "已成团",
    FAILED: "拼团失败，已全额退款",
    CANCELLED: "拼团已取消",
    ended: "活动已结束",
    noGroups: "暂无可参加的团，快来发起拼单",
    unavailable: "拼团暂不可用",
    minutesLeft: (n) => `剩余${n}分钟`,
    groupPriceLabel: "拼团价",
    soloPriceLabel: "单独购买价",
  },
};

export function text(locale, key, ...args) {
  const entry = (STRINGS[locale] || STRINGS.en)[key];
  return typeof entry === "function" ? entry(...args) : entry;
}
