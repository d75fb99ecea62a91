"""Writes data/text/default_text.txt, modelkit's embedded default calibration text.

Everything here was written for modelkit (no third-party text): the hand-written sentences of
src/calib/default_text.cpp's first version, more hand-written lines in other languages, scripts,
code and data formats, and sentences composed from hand-written fragments (subjects, actions,
objects, places, times, numbers, units) with a fixed seed, so the file is the same on every run.
The mix covers what calibration must see: short and long inputs, many domains, digits and units,
punctuation, code, and non-Latin scripts.

Format: one sample per line; a literal backslash-n inside a line stands for a line break (code).
Usage: /usr/bin/python3 scripts/make_default_text.py [OUTPUT]
"""
import os
import random
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

HAND_WRITTEN = [
    # other languages and scripts
    "Le train de 8 h 15 pour Lyon partira avec vingt minutes de retard en raison d'un incident technique.",
    "Nous avons repeint la cuisine en jaune pâle, et la pièce paraît deux fois plus grande.",
    "Die Bibliothek bleibt wegen Renovierungsarbeiten bis Ende März geschlossen.",
    "Bitte schalten Sie das Gerät aus, bevor Sie den Akku wechseln.",
    "El mercado abre a las siete y las mejores frutas se venden antes de las nueve.",
    "¿Sabes si la farmacia de la esquina abre los domingos por la tarde?",
    "La riunione è stata spostata a giovedì alle 14:30 nella sala al secondo piano.",
    "O festival de cinema recebeu mais de duas mil inscrições de 64 países este ano.",
    "De fietsenmaker op de hoek repareert lekke banden binnen een uur.",
    "Jutro rano spadnie pierwszy śnieg, więc lepiej wyjechać wcześniej.",
    "Yarın sabah erkenden yola çıkarsak öğlene kadar köye varırız.",
    "Vi ses på stationen klockan sju, ta med paraply för det ska regna.",
    "Kello on jo yli kymmenen, mutta aurinko paistaa vielä.",
    "Сегодня вечером в парке пройдёт бесплатный концерт камерной музыки.",
    "Перед отправкой проверьте, что адрес получателя указан полностью.",
    "Будь ласка, зачиніть вікно, бо в кімнаті стає холодно.",
    "Το μουσείο είναι ανοιχτό καθημερινά από τις εννέα το πρωί έως τις πέντε το απόγευμα.",
    "افتتحت المكتبة العامة الجديدة أبوابها للزوار صباح اليوم بعد ثلاث سنوات من البناء.",
    "هل يمكنك أن ترسل لي نسخة من التقرير قبل نهاية الأسبوع؟",
    "הרכבת האחרונה לתל אביב יוצאת בשעה אחת עשרה וחצי בלילה.",
    "बारिश के कारण आज शाम का क्रिकेट मैच रद्द कर दिया गया है।",
    "कृपया अपना टिकट और पहचान पत्र प्रवेश द्वार पर दिखाएँ।",
    "আজ সকালে বাজারে টাটকা মাছ আর সবজির দাম কিছুটা কম ছিল।",
    "இந்த நூலகத்தில் ஐம்பதாயிரத்துக்கும் மேற்பட்ட புத்தகங்கள் உள்ளன.",
    "今天下午三点在会议室讨论新产品的发布计划。",
    "这家小餐馆的饺子很好吃，价格也不贵。",
    "請在出發前確認護照的有效期限至少還有六個月。",
    "明日の朝は冷え込むので、暖かい服装でお出かけください。",
    "駅前の本屋さんは夜十時まで営業しています。",
    "내일 오전 열 시에 회의실에서 분기 실적을 검토할 예정입니다.",
    "이 공원은 봄이 되면 벚꽃을 보러 온 사람들로 가득 찹니다.",
    "ร้านกาแฟนี้เปิดตั้งแต่เจ็ดโมงเช้าถึงหกโมงเย็นทุกวัน",
    "Chuyến bay đến Hà Nội bị hoãn hai tiếng vì thời tiết xấu.",
    "Toko roti di ujung jalan selalu ramai setiap pagi.",
    "Mvua kubwa imenyesha usiku kucha na barabara nyingi zimefungwa.",
    "Ang palengke ay bukas mula alas-sais ng umaga hanggang alas-otso ng gabi.",
    "Þetta er fallegur dagur til að ganga upp á fjallið.",
    "Dnes večer bude na náměstí koncert místní dechovky.",
    "A könyvtár hétvégén is nyitva tart, délelőtt tíztől délután négyig.",
    "Mâine dimineață va ploua în majoritatea regiunilor țării.",
    "Σήμερα η θερμοκρασία θα φτάσει τους 31 βαθμούς Κελσίου.",
    "Გთხოვთ, დაიცადოთ, ექიმი მალე მიგიღებთ.",
    "Հաջորդ ավտոբուսը կժամանի տասը րոպեից։",
    "ብዙ ሰዎች ማለዳ ላይ ቡና መጠጣት ይወዳሉ።",
    # mixed scripts, transliteration, romanisation
    "The menu listed 寿司 (sushi), 天ぷら (tempura) and お茶 (tea) for under ¥2,000.",
    "She wrote 'Привет!' on the card, then added 'Hello!' underneath for her English friends.",
    "Der Preis beträgt 49,90 € inkl. MwSt.; Versand innerhalb von 2–3 Werktagen.",
    # code and markup
    "for (int i = 0; i < n; ++i) {\\n  total += values[i] * weights[i];\\n}",
    "SELECT name, COUNT(*) AS orders FROM customers JOIN orders USING (customer_id) GROUP BY name HAVING COUNT(*) > 5;",
    "const debounce = (fn, ms) => { let t; return (...args) => { clearTimeout(t); t = setTimeout(() => fn(...args), ms); }; };",
    "fn parse(input: &str) -> Result<u32, ParseIntError> {\\n    input.trim().parse::<u32>()\\n}",
    "git rebase -i HEAD~3 && git push --force-with-lease origin feature/login-form",
    "<div class=\"card\"><h2>Order #4521</h2><p>Status: <strong>shipped</strong></p></div>",
    "{\"id\": 1042, \"name\": \"sensor-7\", \"readings\": [21.4, 21.9, 22.3], \"active\": true}",
    "docker run --rm -p 8080:80 -v \"$PWD/site:/usr/share/nginx/html:ro\" nginx:1.25",
    "if err != nil {\\n\\treturn fmt.Errorf(\"open config: %w\", err)\\n}",
    "class Stack:\\n    def __init__(self):\\n        self.items = []\\n    def push(self, x):\\n        self.items.append(x)",
    "public static int gcd(int a, int b) { return b == 0 ? a : gcd(b, a % b); }",
    "apiVersion: apps/v1\\nkind: Deployment\\nmetadata:\\n  name: web\\nspec:\\n  replicas: 3",
    "2024-11-03T14:22:05.813Z WARN  [worker-3] retrying request id=7f3a9c (attempt 2/5) after 500 ms",
    "Traceback (most recent call last):\\n  File \"main.py\", line 12, in <module>\\nKeyError: 'user_id'",
    "\\\\begin{equation} E = mc^2 \\\\end{equation} relates mass and energy.",
    "| Region | Q1 | Q2 |\\n|---|---|---|\\n| North | 1,204 | 1,377 |\\n| South | 986 | 1,045 |",
    # numbers, identifiers, formats
    "Call +44 20 7946 0958 or write to support@example.org before 5:00 p.m. GMT.",
    "Invoice INV-2023-00417: 3 × €129.00 = €387.00, VAT 21% = €81.27, total €468.27.",
    "The coordinates 48.8584° N, 2.2945° E point to the Eiffel Tower.",
    "Flight BA 287 departs at 13:45 from Terminal 5, gate B38.",
    "ISBN 978-0-00-000000-2 was assigned to the second printing.",
    "The pressure dropped from 1013 hPa to 987 hPa in under twelve hours.",
    "Dosage: 250 mg twice daily for 7 days; do not exceed 1 g in 24 h.",
    "Download speed averaged 94.6 Mbit/s, upload 11.2 Mbit/s, latency 18 ms.",
    "π ≈ 3.14159, e ≈ 2.71828, and √2 ≈ 1.41421.",
    "1/3 of the respondents chose option A, 45% option B, and the rest abstained.",
    "The room is 4.2 m × 3.6 m, about 15 m², with a ceiling height of 2.7 m.",
    # very short inputs
    "Yes.",
    "No way!",
    "Thanks!",
    "OK, see you then.",
    "Help",
    "Why?",
    "Merci beaucoup.",
    "¡Hola!",
    "谢谢。",
    "404 Not Found",
    # long inputs
    "When the committee finally published its report, after eighteen months of hearings, site visits and more than four hundred written submissions, it recommended not one but three separate reforms: a shorter approval process for small projects, an independent appeals board for residents who felt their objections had been ignored, and a public register listing every application, its current status and the name of the official responsible for it.",
    "The recipe looks complicated but is mostly waiting: soak the beans overnight, simmer them with a bay leaf for an hour and a half, fry the onions slowly until they are deep brown, add the garlic, cumin and tomatoes for another ten minutes, then combine everything, season generously, and let it rest for at least twenty minutes before serving with rice or warm bread.",
    "Although the software passed every automated test, users on older laptops reported that the application froze for several seconds whenever they opened a large spreadsheet, and after a week of profiling the team traced the problem to a single function that re-sorted the entire column on every keystroke instead of inserting the new value in place.",
]

# Fragments for composed sentences: (subject, verb phrase with {obj}, objects, tails).
DOMAINS = {
    "news": (
        ["The city council", "The national weather service", "A regional airline", "The central bank", "Local police",
         "The ministry of health", "A coalition of farmers", "The port authority", "Union leaders", "The school board"],
        ["announced plans to {obj}", "voted on Tuesday to {obj}", "said it would {obj}", "has refused to {obj}",
         "is expected to {obj}", "agreed in principle to {obj}"],
        ["expand the bus network to the northern suburbs", "delay the opening of the new terminal",
         "raise the minimum wage by {pct}", "close two branches by the end of the year",
         "review safety rules after last month's accident", "cut fees for first-time applicants",
         "invest {money} in flood defences", "hire {n} additional nurses"],
        ["", ", officials said.", " despite strong opposition.", ", according to a statement released on {date}.",
         " after weeks of negotiations.", ", a spokesperson confirmed."],
    ),
    "science": (
        ["Researchers in Norway", "A team of astronomers", "Marine biologists", "The new study", "Chemists at the institute",
         "An international consortium", "Geologists", "The laboratory"],
        ["found evidence that {obj}", "reported that {obj}", "measured how {obj}", "showed in {n} trials that {obj}",
         "could not confirm that {obj}"],
        ["the glacier lost {pct} of its volume since {year}", "certain bacteria survive at {temp}",
         "the compound binds more strongly at low pH", "coral reefs recover faster in cooler water",
         "the signal repeats every {n} days", "sleep improves the recall of new vocabulary",
         "the alloy keeps its strength up to {temp}", "songbirds adjust their pitch in noisy cities"],
        ["", ", the paper says.", " (see the supplementary data).", ", though the sample was small.",
         ", which surprised the authors.", "; further work is planned for {year}."],
    ),
    "support": (
        ["My order", "The app", "Your password reset link", "The printer on the third floor", "Our shared calendar",
         "The invoice you sent", "The parcel", "My new headphones"],
        ["still hasn't {obj}", "stopped working after I tried to {obj}", "keeps asking me to {obj}",
         "was supposed to {obj}"],
        ["arrive, although the tracking says delivered", "sync with my phone", "confirm my email address again",
         "update to version {ver}", "print double-sided", "charge past {pct}", "connect to the office Wi-Fi",
         "show the correct total of {money}"],
        ["", ". Can you help?", " — what should I do?", ". I've already restarted it twice.",
         ". Ticket number {ticket}.", ". This is the third time this month!"],
    ),
    "reviews": (
        ["The hotel", "This blender", "The second season", "Their new album", "The tour guide", "This backpack",
         "The café on Main Street", "The museum's audio guide"],
        ["{obj}", "honestly {obj}", "really {obj}", "somehow {obj}"],
        ["exceeded my expectations", "was a complete waste of {money}", "is worth every penny",
         "started strong but lost its way after episode {n}", "feels cheaply made",
         "was cleaner than the photos suggested", "is too loud to use before 7 a.m.",
         "made the whole trip memorable"],
        [".", "!", "! ★★★★★", ". 2/5, would not recommend.", " — 4 stars from me.", "... mostly.", " 😊", " 😡"],
    ),
    "instructions": (
        ["First,", "Next,", "Before you begin,", "If the light is red,", "Once the water boils,", "To save power,",
         "After installing the update,", "For best results,"],
        ["{obj}"],
        ["unplug the device and wait {n} seconds", "add {grams} of salt and stir", "press and hold the power button",
         "remove the protective film from the screen", "tighten the four screws by hand",
         "set the oven to {temp}", "restart the computer", "rinse the filter under cold water"],
        [".", " before continuing.", ", then check the display again.", " (this takes about {n} minutes).",
         "; do not use force.", "."],
    ),
    "legal": (
        ["The Supplier", "Either party", "The Tenant", "The Licensee", "The Employer", "The Contractor"],
        ["shall {obj}", "may {obj}", "must not {obj}", "agrees to {obj}"],
        ["notify the other party in writing within {n} days", "pay all invoices within {n} days of receipt",
         "sublet the premises without prior written consent", "keep confidential information secret",
         "terminate this agreement with {n} days' notice", "maintain insurance of at least {money}"],
        [".", ", unless otherwise agreed.", " as set out in Schedule {n}.", ", subject to clause {n}.{n2}.",
         "; failure to do so is a material breach."],
    ),
    "dialogue": (
        ["Are you", "Did you", "Could we", "Shall I", "Would you", "Have you"],
        ["{obj}"],
        ["coming to the party on Saturday", "remember to buy milk", "move the meeting to {clock}",
         "book a table for {n}", "mind closing the window", "seen my keys anywhere", "finished the slides yet",
         "call me back after lunch"],
        ["?", "? I can't find them.", "? Let me know by tonight.", "? 🙂", "?!", ", by any chance?"],
    ),
}

FRENCH = (["Le conseil municipal", "La société", "L'équipe de recherche", "Le gouvernement", "Mon voisin"],
          ["a décidé de", "prévoit de", "refuse de", "espère"],
          ["rénover la gare d'ici {year}", "réduire ses coûts de {pct}", "publier les résultats en juin",
           "planter {n} arbres dans le quartier", "ouvrir une nouvelle boutique"])
GERMAN = (["Die Stadtverwaltung", "Das Unternehmen", "Unser Team", "Die Regierung", "Meine Schwester"],
          ["plant,", "hat beschlossen,", "versucht,", "hofft,"],
          ["den Bahnhof bis {year} zu modernisieren", "die Kosten um {pct} zu senken", "im Sommer umzuziehen",
           "{n} neue Mitarbeiter einzustellen", "ein kleines Café zu eröffnen"])
SPANISH = (["El ayuntamiento", "La empresa", "Nuestro equipo", "El gobierno", "Mi hermano"],
           ["ha decidido", "planea", "se niega a", "espera"],
           ["renovar el puerto antes de {year}", "reducir los gastos un {pct}", "abrir una tienda en el centro",
            "contratar a {n} personas más", "publicar el informe en mayo"])


def fill(template, rng):
    values = {
        "pct": f"{rng.choice([2, 3, 5, 7, 12, 15, 18, 25, 40])}%",
        "money": rng.choice(["$1.2 million", "€340,000", "£75", "¥12,800", "$49.99", "₹2,500", "CHF 980"]),
        "n": str(rng.choice([2, 3, 4, 6, 8, 10, 12, 14, 30, 45, 60, 90, 120, 300])),
        "n2": str(rng.randint(1, 9)),
        "date": rng.choice(["March 3", "2023-07-14", "14/02/2024", "Friday", "the 21st of June", "1 Oct 2022"]),
        "year": str(rng.randint(1990, 2031)),
        "temp": rng.choice(["-18 °C", "4 °C", "37 °C", "180 °C", "450 °F", "1,200 K"]),
        "ver": f"{rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}",
        "ticket": f"#{rng.randint(10000, 99999)}",
        "grams": f"{rng.choice([5, 10, 15, 20, 250])} g",
        "clock": rng.choice(["9:30", "noon", "3 p.m.", "16:45", "half past ten"]),
    }
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], template)


def composed(rng, count):
    out = []
    domains = list(DOMAINS.values())
    languages = [FRENCH, GERMAN, SPANISH]
    seen = set()
    while len(out) < count:
        if rng.random() < 0.12:
            subj, verbs, objs = rng.choice(languages)
            text = f"{rng.choice(subj)} {rng.choice(verbs)} {rng.choice(objs)}."
        else:
            subjects, verbs, objects, tails = rng.choice(domains)
            verb = rng.choice(verbs).replace("{obj}", rng.choice(objects))
            text = f"{rng.choice(subjects)} {verb}{rng.choice(tails)}"
            if not text.endswith((".", "!", "?", ")", "😊", "😡", "★")):
                text += "."
        text = fill(text, rng)
        if rng.random() < 0.08:  # sometimes two sentences in one sample
            subjects, verbs, objects, tails = rng.choice(domains)
            more = fill(f"{rng.choice(subjects)} {rng.choice(verbs).replace('{obj}', rng.choice(objects))}.", rng)
            text = f"{text} {more}"
        if text not in seen:
            seen.add(text)
            out.append(text)
    return out


def original_lines():
    """The hand-written lines of the first default_text.cpp (kept in git history), if given."""
    path = os.path.join(ROOT, "data", "text", "original_lines.txt")
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f if line.strip()]


def main():
    out_path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "data", "text", "default_text.txt")
    rng = random.Random(20241203)
    lines = original_lines() + HAND_WRITTEN
    lines += composed(rng, 1100 - len(lines))
    unique = list(dict.fromkeys(lines))
    for line in unique:
        assert "\n" not in line, line
    with open(out_path, "w", encoding="utf-8") as f:
        f.write("\n".join(unique) + "\n")
    print(f"wrote {len(unique)} samples to {out_path}")


if __name__ == "__main__":
    main()
