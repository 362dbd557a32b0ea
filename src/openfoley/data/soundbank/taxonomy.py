"""Two-level labels for bank clips: a coarse *group* and a fine *class*, from documented path rules.

Inputs: a package name, a member path (archive levels joined with ``!``) and, for Hydrogen kits, the
instrument name the kit's ``drumkit.xml`` gives the file. Output: a ``Label`` or ``None`` (dropped:
music, dialogue, interface beeps, fictional creatures, or anything no rule names).

Rules are ordered ``(regex, group, fine)`` triples matched against the lower-cased member path; the first
match wins; ``\\1`` in ``fine`` is replaced by the first captured group passed through ``MATERIALS``.
docs/sound-bank.md prints the tables. Classes with too few clips are merged into ``PARENTS[fine]``
(repeatedly) or dropped: see ``merge_rare``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

GROUPS = (
    "impact", "footsteps", "animal", "drum", "tool", "door", "break", "water", "fire", "vehicle",
    "weapon", "speech", "household", "instrument",
    # added here (docs/sound-bank.md): weather (rain, wind, thunder), human (non-speech vocal and body
    # sounds: screams, pain cries, applause, heartbeat), machine (factory noise, pumps, engines at rest)
    "weather", "human", "machine",
)


@dataclass(frozen=True)
class Label:
    group: str
    fine: str


# surface words in file names -> the material name used in fine classes
MATERIALS = {
    "rock": "stone", "stone": "stone", "hard": "stone", "tile": "tile", "linoleum": "tile",
    "wood": "wood", "metal": "metal", "dirt": "dirt", "grass": "grass", "gravel": "gravel",
    "sand": "sand", "snow": "snow", "ice": "ice", "glass": "glass", "carpet": "carpet",
    "water": "water", "splash": "water",
}
_MAT = "(" + "|".join(sorted(MATERIALS, key=len, reverse=True)) + ")"

Rule = tuple[str, str, str]

# --- 0 A.D. (0ad-data: public.zip!audio/...) ---------------------------------------------------
RULES_0AD: list[Rule] = [
    (r"audio/(music|interface|voice/(?!global))", "", ""),  # music, UI, unit dialogue: dropped
    (r"voice/global/civ_dog_bark", "animal", "dog"),
    (r"fauna/.*(horse)", "animal", "horse"),
    (r"fauna/.*(cattle)", "animal", "cattle"),
    (r"fauna/.*(camel)", "animal", "camel"),
    (r"fauna/.*(chicken)", "animal", "chicken"),
    (r"fauna/.*(elephant)", "animal", "elephant"),
    (r"fauna/.*(lion)", "animal", "lion"),
    (r"fauna/.*(pig)", "animal", "pig"),
    (r"fauna/.*(sheep)", "animal", "sheep"),
    (r"fauna/.*(goat)", "animal", "goat"),
    (r"fauna/.*(flamingo|peacock)", "animal", r"\1"),
    (r"actor/gate/stonegate_open", "door", "gate opening"),
    (r"actor/gate/stonegate_close", "door", "gate closing"),
    (r"actor/human/death/", "human", "death cry"),
    (r"human/movement/footsteps/f[o]+[r]?tstep_" + _MAT, "footsteps", r"footstep on \1"),
    (r"human/movement/hstep_(?:run_)?" + _MAT, "footsteps", r"footstep on \1"),
    (r"singlesteps/fs_" + _MAT, "footsteps", r"footstep on \1"),
    (r"mounted/movement/mstep", "footsteps", "hoofbeats"),
    (r"mounted/death/death_horse", "animal", "horse"),
    (r"actor/ship/(ship_move|smove|warship_move)", "vehicle", "ship moving"),
    (r"ambient/water/river", "water", "river"),
    (r"ambient/water/waterfall", "water", "waterfall"),
    (r"ambient/water/wave", "water", "sea waves"),
    (r"ambient/weather/rain", "weather", "rain"),
    (r"ambient/weather/thunder", "weather", "thunder"),
    (r"ambient/weather/(wind|snowstorm)", "weather", "wind"),
    (r"destruction/building_collapse", "break", "building collapse"),
    (r"destruction/explode_debris", "weapon", "explosion"),
    (r"impact/arrow_" + _MAT, "impact", r"arrow on \1"),
    (r"impact/arrow_\d", "impact", "arrow impact"),
    (r"impact/sling_" + _MAT, "impact", r"sling stone on \1"),
    (r"impact/shield_" + _MAT, "impact", r"hit on \1 shield"),
    (r"impact/flesh", "impact", "flesh hit"),
    (r"impact/siegeprojectilehit", "impact", "boulder impact"),
    (r"siege/ballist", "weapon", "ballista shot"),
    (r"siege/onager_shooting", "weapon", "catapult shot"),
    (r"siege/(onager_moving|ram_move)", "vehicle", "siege engine rolling"),
    (r"siege/ram_attack\.", "impact", "battering ram hit"),
    (r"weapon/musket", "weapon", "musket shot"),
    (r"weapon/arrowfly", "weapon", "arrow flight"),
    (r"weapon/bow_attack", "weapon", "bow shot"),
    (r"weapon/jav_attack", "weapon", "javelin throw"),
    (r"weapon/(pike|spear)_attack", "weapon", "spear thrust"),
    (r"weapon/sling", "weapon", "sling throw"),
    (r"weapon/sword_attack", "weapon", "sword swing"),
    (r"weapon/swordhit", "weapon", "sword hit"),
    (r"construction/con_saw", "tool", "sawing wood"),
    (r"construction/con_stone", "tool", "chiselling stone"),
    (r"construction/con_wood", "tool", "hammering wood"),
    (r"farming/hoe", "tool", "hoe in soil"),
    (r"foraging/leaves", "household", "rustling leaves"),
    (r"gathering/gather_field_", "tool", "harvesting grain"),
    (r"gathering/gather_fruit_", "household", "picking fruit"),
    (r"gathering/gather_meat_", "tool", "butchering meat"),
    (r"lumbering/lumber_tree_", "tool", "axe chopping wood"),
    (r"mining/mine_metal", "tool", "pickaxe on metal"),
    (r"mining/mine_stone", "tool", "pickaxe on stone"),
]

# --- UFO: Alien Invasion (ufoai-sound: base/0snd.pk3!sound/...) ---------------------------------
RULES_UFO: list[Rule] = [
    (r"sound/(aliens|geoscape|ui)/", "", ""),
    (r"sound/misc/(lobby|popup|roundstart|talk|electro\.)", "", ""),
    (r"footsteps/(crouch|stand|water_)", "", ""),
    (r"footsteps/hitground", "impact", "body fall"),
    (r"footsteps/" + _MAT, "footsteps", r"footstep on \1"),
    (r"(soldiers|civilians)/.*death", "human", "death cry"),
    (r"(soldiers|civilians)/.*scream", "human", "scream"),
    (r"(soldiers|civilians)/.*hurt", "human", "pain cry"),
    (r"doors/creak", "door", "door creak"),
    (r"doors/door\d-open", "door", "door opening"),
    (r"doors/door\d-close", "door", "door closing"),
    (r"doors/open_close", "door", "door opening and closing"),
    (r"impact/(bullet|waterbullet|water)-impact", "impact", "bullet impact"),
    (r"impact/(bullet|knife)-bodyimpact", "impact", "flesh hit"),
    (r"impact/knife-impact", "impact", "knife impact"),
    (r"misc/breakglass", "break", "glass breaking"),
    (r"misc/breakwood", "break", "wood breaking"),
    (r"misc/breakmetal", "break", "metal breaking"),
    (r"misc/breakelectric", "break", "electric breaking"),
    (r"seq/sword-fly", "weapon", "sword swing"),
    (r"seq/sword-hit", "weapon", "sword hit"),
    (r"seq/humanflyby", "vehicle", "aircraft flyby"),
    (r"ugv/diesel", "vehicle", "diesel engine"),
    (r"weapons/bullet-(pistol)", "weapon", "pistol shot"),
    (r"weapons/bullet-(rifle|sniper)", "weapon", "rifle shot"),
    (r"weapons/bullet-shotgun", "weapon", "shotgun shot"),
    (r"weapons/bullet-(smg|hmg|chaingun)", "weapon", "machine gun burst"),
    (r"weapons/(explosion|rocket-human|grenade-launcher)", "weapon", "explosion"),
    (r"weapons/reload-", "weapon", "gun reload"),
    (r"weapons/grenade-bounce", "impact", "grenade bounce"),
    (r"weapons/grenade-pin", "weapon", "grenade pin"),
    (r"weapons/flamer", "fire", "flamethrower"),
    (r"weapons/melee-swoosh", "weapon", "sword swing"),
    (r"weapons/melee-throw", "weapon", "throw whoosh"),
    (r"ambience/(fire|smallfire|firesoft)", "fire", "fire crackling"),
    (r"ambience/thunder", "weather", "thunder"),
    (r"ambience/arcticwind", "weather", "wind"),
    (r"ambience/(water\d*|waterfontain)\.", "water", "flowing water"),
    (r"ambience/cricket", "animal", "cricket"),
    (r"ambience/(minepump|machine\d)", "machine", "machine hum"),
    (r"ambience/steam", "machine", "steam hiss"),
    (r"ambience/sparks", "machine", "electric sparks"),
]

# --- Minetest (minetest-data: .../mods/<mod>/sounds/<name>.ogg) ---------------------------------
RULES_MT: list[Rule] = [
    (r"default_" + _MAT + r"_footstep", "footsteps", r"footstep on \1"),
    (r"default_dig_cracky", "tool", "pickaxe on stone"),
    (r"default_dig_choppy", "tool", "axe chopping wood"),
    (r"default_dig_crumbly", "tool", "shovel in dirt"),
    (r"default_(dig|dug)_metal", "impact", "hit on metal"),
    (r"default_gravel_(dig|dug)", "tool", "shovel in gravel"),
    (r"default_ice_(dig|dug)", "impact", "hit on ice"),
    (r"default_place_node_metal", "impact", "metal block placed"),
    (r"default_place_node_hard", "impact", "stone block placed"),
    (r"default_place_node\.", "impact", "block placed"),
    (r"default_break_glass", "break", "glass breaking"),
    (r"default_tool_breaks", "break", "tool breaking"),
    (r"default_chest_open", "household", "chest opening"),
    (r"default_chest_close", "household", "chest closing"),
    (r"default_furnace_active", "fire", "fire crackling"),
    (r"(doors_(door|steel_door|glass_door)|xpanes_steel_bar_door)_open", "door", "door opening"),
    (r"(doors_(door|steel_door|glass_door)|xpanes_steel_bar_door)_close", "door", "door closing"),
    (r"doors_fencegate_open", "door", "gate opening"),
    (r"doors_fencegate_close", "door", "gate closing"),
    (r"env_sounds_water", "water", "flowing water"),
    (r"tnt_explode", "weapon", "explosion"),
    (r"tnt_ignite|fire_flint_and_steel", "fire", "fire ignition"),
    (r"tnt_gunpowder_burning", "fire", "fuse burning"),
    (r"fire_(fire|small|large)", "fire", "fire crackling"),
    (r"fire_extinguish", "fire", "fire extinguished"),
    (r"carts_cart_moving", "vehicle", "cart rolling"),
]

# --- GCompris (gcompris-qt-data: rcc/<activity>.rcc!gcompris/src/activities/...) ---------------
RULES_GC: list[Rule] = [
    (r"explore_world_music|intro\.ogg|/chronos/|/morse_code/|tuxok|youcannot|realrainbow", "", ""),
    (r"explore_farm_animals/.*/(owl|pig|cat|horse|dog|duck|sheep)\.", "animal", r"\1"),
    (r"explore_farm_animals/.*/cow\.", "animal", "cattle"),
    (r"explore_farm_animals/.*/chickens\.", "animal", "chicken"),
    (r"instruments/resource/(snare_drum|bongo|tambourine|triangle|cymbal|timpani|maracas|castanets"
     r"|drum_kit)\.", "drum", r"\1"),
    (r"instruments/resource/(\w+)\.", "instrument", r"\1"),
    (r"melody/resource/xylofon", "instrument", "xylophone"),
    (r"melody/resource/knock", "door", "knock on door"),
    (r"memory-sound/.*guitar_son", "instrument", "guitar"),
    (r"memory-sound/.*lrbark", "animal", "dog"),
    (r"memory-sound/.*frogs", "animal", "frog"),
    (r"memory-sound/.*rain_in_garden", "weather", "rain"),
    (r"memory-sound/.*object_falling", "impact", "object falling"),
    (r"memory-sound/.*door_open", "door", "door opening"),
    (r"memory-sound/.*applauses", "human", "applause"),
    (r"memory-sound/.*heart_beat", "human", "heartbeat"),
    (r"memory-sound/.*buddhist_gong", "instrument", "gong"),
    (r"memory-sound/.*factory_noise", "machine", "factory machine"),
    (r"memory-sound/.*ring_01", "household", "bell ring"),
    (r"memory-sound/.*startandstopcarengine", "vehicle", "car engine"),
    (r"memory-sound/.*train_slowing", "vehicle", "train"),
    (r"railroad/.*train\.", "vehicle", "train"),
    (r"traffic/.*car\.", "vehicle", "car engine"),
    (r"guessnumber/.*helicopter", "vehicle", "helicopter"),
    (r"canal_lock/.*door_(open|close)", "door", r"lock gate"),
    (r"canal_lock/.*water_fill|core/resource/sounds/water\.|watercycle/.*harbor", "water", "flowing water"),
    (r"/(drip|bubble)\.wav", "water", "water drop"),
    (r"mining/.*pickaxe", "tool", "pickaxe on stone"),
    (r"(erase|redraw)/.*eraser", "household", "eraser rubbing"),
    (r"redraw/.*brush", "household", "brush stroke"),
    (r"money/.*money", "household", "coins"),
    (r"memory/.*card_flip", "household", "card flip"),
    (r"scalesboard/.*metal_hit", "impact", "hit on metal"),
    (r"target/.*arrow", "weapon", "arrow flight"),
    (r"core/resource/sounds/crash", "break", "glass breaking"),
    (r"core/resource/sounds/brick", "impact", "brick impact"),
]

# --- Tux Paint stamps (tuxpaint-stamps-default: usr/share/tuxpaint/stamps/<topic>/.../<stem>.ogg) --
# Sound effects are <stem>.ogg beside <stem>.png; <stem>_desc.ogg is the English spoken description
# (kept as speech); <stem>_desc_<lang>.ogg and <stem>_<lang>.ogg are translations (dropped).
TUX_STEMS: dict[str, tuple[str, str]] = {
    **{s: ("animal", s) for s in (
        "frog", "crow", "cuckoo", "duck", "owl", "penguin", "seagull", "turkey", "vulture", "bee",
        "grasshopper", "hornet", "chimp", "gorilla", "dolphin", "orca", "whale", "bear", "bison", "goat",
        "sheep", "camel", "lion", "tiger", "deer", "dog", "fox", "elephant", "donkey", "horse", "zebra",
        "giraffe", "hippopotamus", "pig", "mouse", "rabbit", "squirrel", "koala", "beaver", "badger",
        "ferret", "iguana", "wombat", "caribou", "blackbird", "lark", "nandou", "quetzal", "tucan")},
    "drake": ("animal", "duck"), "gander": ("animal", "goose"), "hen": ("animal", "chicken"),
    "rooster": ("animal", "chicken"), "heron_greatblue_flying": ("animal", "heron"),
    "xanthia": ("animal", "moth"), "sea_lion": ("animal", "sea lion"), "bull": ("animal", "cattle"),
    "cow": ("animal", "cattle"), "cow_white": ("animal", "cattle"), "mountaingoat": ("animal", "goat"),
    "ram": ("animal", "sheep"), "sheep_lamb": ("animal", "sheep"), "dromedary": ("animal", "camel"),
    "doe": ("animal", "deer"), "pig_golden": ("animal", "pig"), "pig_golden2": ("animal", "pig"),
    "bat_left": ("animal", "bat"), "blackcat": ("animal", "cat"), "spider": ("animal", "spider"),
    "cymbal_crash": ("drum", "crash cymbal"), "drum_tomtom_floor": ("drum", "tom drum"),
    "drumkit": ("drum", "drum kit"), "cello": ("instrument", "cello"), "violin": ("instrument", "violin"),
    "bassoon": ("instrument", "bassoon"), "washing-machine": ("household", "washing machine"),
    "scissors_small_closed": ("household", "scissors"), "scissors_small_open": ("household", "scissors"),
    "bottle": ("household", "bottle"), "glass": ("household", "glass clink"),
    "kettle": ("household", "kettle"), "rubberduck": ("household", "squeaky toy"),
    "toilet": ("household", "toilet flush"), "vacuum_cleaner": ("household", "vacuum cleaner"),
    "camera_35mm": ("household", "camera shutter"), "hammer": ("tool", "hammering"),
    "mallet_metal": ("tool", "hammering"), "saw": ("tool", "sawing wood"),
    "lightningbolt": ("weather", "thunder"), "fireworks": ("weapon", "fireworks"),
    "firetruck": ("vehicle", "siren"), "apple_red": ("household", "biting apple"),
}

# Hydrogen drum kits: the instrument name in drumkit.xml, first matching keyword wins.
DRUM_KEYWORDS: list[tuple[str, str, str]] = [
    (r"kick|bass ?drum|\bbd\b", "drum", "kick drum"),
    (r"snare", "drum", "snare drum"),
    (r"rim|stick", "drum", "rimshot"),
    (r"h(i|igh)[- ]?hat|\bhh\b|\bhat\b|ohh|chh", "drum", "hi-hat"),
    (r"crash|china|splash", "drum", "crash cymbal"),
    (r"ride", "drum", "ride cymbal"),
    (r"tom", "drum", "tom drum"),
    (r"clap", "drum", "hand clap"),
    (r"cowbell", "drum", "cowbell"),
    (r"tambourine", "drum", "tambourine"),
    (r"conga", "drum", "conga"),
    (r"bongo", "drum", "bongo"),
    (r"cajon", "drum", "cajon"),
    (r"maraca|shaker", "drum", "maracas"),
    (r"clave", "drum", "claves"),
    (r"wood ?block", "drum", "woodblock"),
    (r"agogo", "drum", "agogo"),
    (r"snap", "drum", "finger snap"),
    (r"waterglass", "household", "glass clink"),
    (r"guitar|strum", "instrument", "guitar"),
]

# Fine class -> parent class used when the fine class has too few clips (merge_rare).
PARENTS: dict[str, str] = {
    **{f"footstep on {m}": "footstep" for m in set(MATERIALS.values())},
    "hoofbeats": "footstep",
    **{f"arrow on {m}": "arrow impact" for m in set(MATERIALS.values())},
    **{f"sling stone on {m}": "stone impact" for m in set(MATERIALS.values())},
    "boulder impact": "stone impact",
    "hit on metal shield": "hit on metal", "hit on wood shield": "hit on wood",
    "metal block placed": "hit on metal", "stone block placed": "block placed", "brick impact": "block placed",
    "gate opening": "door opening", "gate closing": "door closing", "door creak": "door opening",
    "door opening and closing": "door closing", "lock gate": "door closing",
    "pistol shot": "gunshot", "rifle shot": "gunshot", "shotgun shot": "gunshot",
    "machine gun burst": "gunshot", "musket shot": "gunshot",
    "catapult shot": "ballista shot", "throw whoosh": "sword swing", "javelin throw": "spear thrust",
    "fire ignition": "fire crackling", "fuse burning": "fire crackling", "fire extinguished": "fire crackling",
    "flamethrower": "fire crackling",
    "waterfall": "river", "water drop": "flowing water",
    "chest closing": "chest opening", "scream": "pain cry", "death cry": "pain cry",
    "shovel in gravel": "shovel in dirt", "hoe in soil": "shovel in dirt", "hammering": "hammering wood",
    "chiselling stone": "pickaxe on stone", "electric breaking": "metal breaking", "tool breaking": "metal breaking",
    "ride cymbal": "cymbal", "crash cymbal": "cymbal", "hi-hat": "cymbal",
    "conga": "hand drum", "bongo": "hand drum", "cajon": "hand drum",
    "cowbell": "hand percussion", "agogo": "hand percussion", "claves": "hand percussion",
    "woodblock": "hand percussion", "castanets": "hand percussion", "triangle": "hand percussion",
    "maracas": "shaker", "tambourine": "shaker", "timpani": "tom drum",
    **{s: "bird" for s in ("crow", "cuckoo", "owl", "penguin", "seagull", "turkey", "vulture", "blackbird",
                           "lark", "nandou", "quetzal", "tucan", "heron", "flamingo", "peacock", "goose",
                           "duck", "chicken")},
    **{s: "insect" for s in ("bee", "hornet", "grasshopper", "moth", "cricket", "spider")},
    **{s: "big cat" for s in ("lion", "tiger", "cat")},
    **{s: "ape" for s in ("chimp", "gorilla")},
    **{s: "marine mammal" for s in ("dolphin", "orca", "whale", "sea lion")},
    **{s: "horse" for s in ("donkey", "zebra")},
    **{s: "deer" for s in ("caribou",)},
    "bison": "cattle", "elephant": "large mammal", "hippopotamus": "large mammal",
    "giraffe": "large mammal", "bear": "large mammal",
    **{s: "small mammal" for s in ("mouse", "rabbit", "squirrel", "koala", "beaver", "badger", "ferret",
                                    "wombat", "bat", "fox")},
    **{s: "string instrument" for s in ("violin", "cello", "harp", "banjo", "electric guitar", "guitar")},
    **{s: "brass instrument" for s in ("trumpet", "horn", "tuba", "trombone")},
    **{s: "wind instrument" for s in ("clarinet", "flute traversiere", "saxophone", "bassoon", "harmonica",
                                      "accordion")},
    **{s: "keyboard instrument" for s in ("piano", "organ", "xylophone")},
    "helicopter": "aircraft flyby", "siren": "car engine", "train": "car engine", "ship moving": "cart rolling",
    "siege engine rolling": "cart rolling", "diesel engine": "car engine",
    "steam hiss": "machine hum", "electric sparks": "machine hum", "factory machine": "machine hum",
}


def _sub(fine: str, m: re.Match) -> str:
    if "\\1" in fine:
        word = m.group(1)
        fine = fine.replace("\\1", MATERIALS.get(word, word).replace("_", " ") if "on \\1" in fine
                            or "\\1 shield" in fine else word)
    return fine


def _apply(rules: list[Rule], path: str) -> Label | None:
    for pattern, group, fine in rules:
        m = re.search(pattern, path)
        if m:
            return Label(group, _sub(fine, m)) if group else None
    return None


def _tux(path: str) -> Label | None:
    name = path.rsplit("/", 1)[-1]
    stem = name.rsplit(".", 1)[0]
    if "/stamps/" not in path or "/symbols/" in path:
        return None
    if stem.endswith("_desc"):
        return Label("speech", "speech")
    return Label(*TUX_STEMS[stem]) if stem in TUX_STEMS else None


def drum_label(instrument: str) -> Label | None:
    """Label from a Hydrogen instrument name (e.g. ``'Snare Rimshot (Pearl ...)'`` -> snare drum)."""
    name = instrument.lower()
    name = re.sub(r"\(.*?\)", "", name)
    for pattern, group, fine in DRUM_KEYWORDS:
        if re.search(pattern, name):
            return Label(group, fine)
    return None


def classify(package: str, path: str, instrument: str | None = None) -> Label | None:
    """Label for one member of ``package`` at ``path`` (``!``-joined), or None to drop it."""
    p = path.lower()
    if package.startswith("hydrogen"):
        return drum_label(instrument) if instrument else None
    if package == "0ad-data":
        return _apply(RULES_0AD, p)
    if package == "ufoai-sound":
        return _apply(RULES_UFO, p)
    if package == "minetest-data":
        return _apply(RULES_MT, p)
    if package == "gcompris-qt-data":
        lab = _apply(RULES_GC, p)
        return Label(lab.group, lab.fine.replace("_", " ")) if lab else None
    if package == "tuxpaint-stamps-default":
        return _tux(p)
    return None


def drumkit_instruments(root: Path) -> dict[str, str]:
    """``{path relative to root: instrument name}`` from every ``drumkit.xml`` under ``root``.

    A sample file named by several instruments keeps the first instrument's name.
    """
    out: dict[str, str] = {}
    root = Path(root)
    for xml in sorted(root.rglob("drumkit.xml")):
        try:
            tree = ET.parse(xml).getroot()
        except ET.ParseError:
            continue
        ns = tree.tag.split("}")[0] + "}" if tree.tag.startswith("{") else ""
        folder = xml.parent.relative_to(root)
        for ins in tree.iter(f"{ns}instrument"):
            name = (ins.findtext(f"{ns}name") or "").strip()
            for fn in ins.iter(f"{ns}filename"):
                if fn.text and name:
                    out.setdefault(str(folder / fn.text.strip()), name)
    return out


def merge_rare(counts: dict[str, int], min_clips: int) -> dict[str, str | None]:
    """Map each fine class to its final class: itself if it has ``min_clips`` clips, else merged upward.

    Rule: a class with fewer than ``min_clips`` clips moves into ``PARENTS[class]`` (its clips add to the
    parent's), repeated up the chain, deepest classes first; a class still too small with no parent is
    dropped (None). Deterministic: classes are processed in a fixed order (depth, then name).
    """
    total = dict(counts)

    def depth(c: str) -> int:
        d, seen = 0, set()
        while c in PARENTS and c not in seen:
            seen.add(c)
            c = PARENTS[c]
            d += 1
        return d

    target: dict[str, str | None] = {c: c for c in counts}
    changed = True
    while changed:
        changed = False
        for c in sorted(list(total), key=lambda c: (-depth(c), c)):
            if 0 < total[c] < min_clips and c in PARENTS:
                parent = PARENTS[c]
                total[parent] = total.get(parent, 0) + total[c]
                total[c] = 0
                for k, v in target.items():
                    if v == c:
                        target[k] = parent
                changed = True
    for k, v in target.items():
        if v is not None and total.get(v, 0) < min_clips:
            target[k] = None
    return target
