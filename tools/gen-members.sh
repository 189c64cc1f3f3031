#!/usr/bin/env bash
# gen-members.sh N [SEED] - writes a member CSV (the header tapaidctl
# member import expects) with N members and plausible Chinese names, to
# stdout.  Deterministic for a given SEED, so demos and benchmarks repeat.
set -eu
n=${1:?usage: gen-members.sh N [SEED]}
seed=${2:-1}
exec awk -v n="$n" -v seed="$seed" 'BEGIN {
	srand(seed);
	ns = split("王 李 张 刘 陈 杨 黄 赵 吴 周 徐 孙 马 朱 胡 郭 何 高 林 罗 郑 梁 谢 宋 唐 许 韩 冯 邓 曹 彭 曾 肖 田 董 袁 潘 于 蒋 蔡 余 杜 叶 程 苏 魏 吕 丁 任 沈 欧阳 司马", sur, " ");
	ng = split("伟 芳 娜 秀 英 敏 静 丽 强 磊 军 洋 勇 艳 杰 娟 涛 明 超 霞 平 刚 桂 兰 华 建 国 红 玉 梅 文 辉 鹏 宇 婷 雪 琳 晨 浩 思 佳 欣 嘉 子 怡 博 志 海 春 燕", giv, " ");
	nu = split("市总工会 建筑工会 卫生工会 交通工会 教育工会 商业工会", uni, " ");
	nc = split("healthcare construction transport teacher retail sanitation", cat, " ");
	print "member_no,name,union,category,status";
	for (i = 1; i <= n; i++) {
		name = sur[int(rand() * ns) + 1] giv[int(rand() * ng) + 1];
		if (rand() < 0.6)
			name = name giv[int(rand() * ng) + 1];
		u = int(rand() * nu) + 1;
		c = int(rand() * nc) + 1;
		st = rand() < 0.02 ? "suspended" : "active";
		printf "M%07d,%s,%s,%s,%s\n", i, name, uni[u], cat[c], st;
	}
}'
