#!/usr/bin/env python3
"""Writes datasets/medical/train.jsonl and eval.jsonl: a small Chinese medical Q&A set written for SharpTune (CC0-1.0).

Rows follow the reference run's schema (instruction = a patient's question, input = the doctor's reasoning,
output = the answer). Answers have a fixed, learnable structure "可能原因：…；建议：…；注意：…" and every symptom
maps to the same causes and advice, so a tiny model tuned on them shows a measurable gain. Deterministic (seeded).
Usage: python3 datasets/medical/make_dataset.py [--out DIR]  (default: next to this script)
"""
import argparse
import json
import os
import random

# symptom -> (causes, reasoning focus, advice, caution)
TABLE = {
    "疲劳": ("缺铁性贫血、甲状腺功能减退或睡眠不足", "疲劳常与血红蛋白偏低、甲状腺激素不足或作息紊乱有关", "检查血常规和甲状腺功能，保证每晚七到八小时睡眠", "若伴有心慌气短或体重明显变化，应尽快就医"),
    "头痛": ("紧张性头痛、偏头痛或血压升高", "头痛的性质、部位和诱因可以区分紧张性与血管性头痛，也要排除高血压", "规律作息，测量血压，必要时在医生指导下使用止痛药", "若头痛突然剧烈或伴有呕吐、视物模糊，应立即就医"),
    "咳嗽": ("上呼吸道感染、过敏性咳嗽或慢性咽炎", "咳嗽的病程、痰液性状和是否发热有助于判断感染或过敏", "多饮温水，避免冷空气和刺激性气味，持续两周以上应拍胸片", "若出现高热、咯血或呼吸困难，应立即就医"),
    "失眠": ("焦虑情绪、作息不规律或咖啡因摄入过多", "入睡困难多与情绪紧张和睡前刺激有关，早醒需考虑抑郁", "固定作息时间，睡前一小时远离手机，下午后不喝咖啡和浓茶", "若长期失眠影响白天工作或情绪低落，应到睡眠专科就诊"),
    "胃痛": ("慢性胃炎、胃溃疡或饮食不规律", "胃痛与进食的关系、是否反酸以及幽门螺杆菌感染是判断要点", "规律进食，少吃辛辣油腻，检查幽门螺杆菌", "若出现黑便、呕血或体重下降，应尽快做胃镜检查"),
    "腹泻": ("急性胃肠炎、食物不耐受或肠易激综合征", "腹泻的次数、大便性状和近期饮食可区分感染与功能性问题", "补充口服补液盐，清淡饮食，注意饮食卫生", "若腹泻伴高热、便血或持续三天以上，应及时就医"),
    "胸闷": ("心肌缺血、焦虑发作或肺部疾病", "胸闷与活动的关系、持续时间和伴随症状决定是否为心源性", "尽快做心电图和心肌酶检查，避免剧烈运动", "若胸闷伴胸痛、出冷汗或放射到左臂，应立即拨打急救电话"),
    "头晕": ("低血压、贫血或耳石症", "头晕是否与体位改变有关、有无视物旋转可区分血压问题与前庭问题", "起身时动作放慢，测量血压并检查血常规", "若头晕伴言语不清或肢体无力，应立即就医排除脑卒中"),
    "关节痛": ("骨关节炎、痛风或类风湿关节炎", "关节痛的部位、是否红肿和晨僵时间有助于区分退行性与炎症性病变", "控制体重，检查血尿酸和类风湿因子，避免关节过度负重", "若关节红肿发热或多个关节同时疼痛，应到风湿科就诊"),
    "皮肤瘙痒": ("湿疹、过敏性皮炎或皮肤干燥", "瘙痒的部位、皮疹形态和接触史可判断过敏或皮肤屏障受损", "保持皮肤湿润，避免热水烫洗和搔抓，远离可疑过敏原", "若瘙痒伴全身黄染或大面积皮疹，应尽快就医"),
    "口干": ("饮水不足、糖尿病或干燥综合征", "口干伴多饮多尿需考虑血糖升高，伴眼干需考虑免疫性疾病", "检查空腹血糖，保证每日饮水，少吃过咸食物", "若口干伴明显消瘦或视力下降，应尽快到内分泌科就诊"),
    "心慌": ("甲状腺功能亢进、贫血或心律失常", "心慌的发作方式、心率和是否伴手抖出汗可区分内分泌与心脏原因", "做心电图和甲状腺功能检查，减少咖啡和浓茶", "若心慌伴晕厥或胸痛，应立即就医"),
    "便秘": ("膳食纤维不足、饮水少或缺乏运动", "排便间隔、大便性状和饮食结构是判断功能性便秘的依据", "多吃蔬菜水果和粗粮，每天饮水一千五百毫升以上，适量运动", "若便秘伴便血或大便变细，应做肠镜检查"),
    "腰痛": ("腰肌劳损、腰椎间盘突出或泌尿系结石", "腰痛与姿势的关系、是否放射到腿部和有无血尿可区分肌肉、椎间盘与结石", "避免久坐和弯腰搬重物，必要时做腰椎影像和尿常规检查", "若腰痛伴下肢麻木无力或大小便异常，应立即就医"),
    "食欲不振": ("消化不良、情绪低落或慢性肝病", "食欲下降的时间、体重变化和伴随症状有助于区分功能性与器质性原因", "少食多餐，检查肝功能，保持心情舒畅", "若伴有消瘦、黄疸或持续一个月以上，应尽快就医"),
    "耳鸣": ("噪音损伤、睡眠不足或内耳供血不足", "耳鸣的持续时间、是否伴听力下降和近期噪音接触是判断要点", "避免噪音环境，保证睡眠，做听力检查", "若耳鸣伴突发听力下降或眩晕，应在七十二小时内就诊"),
    "视力模糊": ("用眼疲劳、屈光不正或血糖升高", "视力模糊是否与用眼时间有关、是否双眼同时出现和血糖水平可区分原因", "每用眼四十分钟休息十分钟，验光并检查血糖", "若突然视力下降或视野缺损，应立即到眼科就诊"),
    "水肿": ("久站久坐、肾脏疾病或心功能不全", "水肿的部位、是否对称以及晨起或傍晚加重可区分肾性与心源性", "减少盐的摄入，抬高下肢，检查尿常规和肾功能", "若水肿伴呼吸困难或尿量明显减少，应尽快就医"),
    "发热": ("病毒感染、细菌感染或泌尿系感染", "发热的热型、持续时间和伴随的咳嗽或尿痛可判断感染部位", "多饮水，体温超过三十八点五度时可服退热药，检查血常规", "若高热超过三天或出现意识改变，应立即就医"),
    "手脚麻木": ("颈椎病、维生素B12缺乏或糖尿病周围神经病变", "麻木的分布是否对称、与颈部姿势的关系和血糖水平是判断要点", "避免长时间低头，检查血糖和维生素B12", "若突然一侧肢体麻木无力，应立即就医排除脑卒中"),
}

WHO = ["我", "我最近", "我这几天", "我妈妈最近", "我爸爸这段时间", "我老公最近", "我女儿最近", "我同事说他最近"]
DURATION = ["一周", "两周", "半个月", "一个月", "三天", "好几个月", "一段时间"]
EXTRA = ["", "，晚上更明显", "，白天也没精神", "，吃了点药也没好", "，不知道要不要紧", "，工作压力比较大", "，以前没有这种情况"]
ASK = ["可能是什么原因?", "是怎么回事?", "需要去医院吗?", "应该怎么办?", "该注意些什么?"]
AGE = ["二十多岁", "三十岁左右", "四十多岁", "五十多岁", "六十多岁"]
SEX = ["男性", "女性"]


def sex_of(who, rng):
    if any(w in who for w in ("妈妈", "女儿")):
        return "女性"
    if any(w in who for w in ("爸爸", "老公", "他")):
        return "男性"
    return rng.choice(SEX)


def answer_of(symptom):
    causes, _, advice, caution = TABLE[symptom]
    return f"可能原因：{causes}；建议：{advice}；注意：{caution}。"


def row(rng, symptom):
    causes, focus, _, _ = TABLE[symptom]
    who = rng.choice(WHO)
    question = f"{who}总是{symptom}，已经{rng.choice(DURATION)}了{rng.choice(EXTRA)}，{rng.choice(ASK)}"
    reasoning = (f"患者主诉{symptom}，{rng.choice(AGE)}{sex_of(who, rng)}。{focus}。"
                 f"结合病程，需要优先考虑{causes.split('、')[0]}，同时排除其他原因。")
    return {"instruction": question, "input": reasoning, "output": answer_of(symptom)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    here = parser.parse_args().out
    rng = random.Random(3407)
    symptoms = list(TABLE)
    train = [row(rng, symptoms[i % len(symptoms)]) for i in range(240)]
    rng.shuffle(train)
    evaluation = [{"instruction": "我最近总是感到疲劳,可能是什么原因?", "symptom": "疲劳", "reference": answer_of("疲劳")}]
    eval_rng = random.Random(2026)
    for symptom in symptoms[1:]:
        evaluation.append({"instruction": f"{eval_rng.choice(AGE)}的{eval_rng.choice(SEX)}，最近经常{symptom}，请问可能是什么原因?", "symptom": symptom,
                           "reference": answer_of(symptom)})
    for name, rows in (("train.jsonl", train), ("eval.jsonl", evaluation)):
        with open(os.path.join(here, name), "w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"train.jsonl: {len(train)} rows, eval.jsonl: {len(evaluation)} rows")


if __name__ == "__main__":
    main()
