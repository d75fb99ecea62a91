#!/usr/bin/env python3
"""Generates data/registry/registry_tables.inc from the hf-facts JSON tables and
data/registry/project_tables.json. Deterministic: the same facts give the same bytes.

usage: gen_registry.py [--facts DIR] [--out FILE] [--check]
  --facts  folder with auto_mappings.json, main_input_names.json, optimum_tasks.json,
           optimum_task_resolution.json and v4.57.6/ (default: ../shared/hf-facts next to the repo)
  --check  compare with the committed file instead of writing; exit 1 on a difference
"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PRIMARY = "5.14.0.dev0"
SECONDARY = "4.57.6"


def key(model_type):
    """The model_type key of the spec: lower-case, '_' -> '-'."""
    return model_type.lower().replace("_", "-")


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def cpp_str(s):
    out = ['"']
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) > 0x7E:
            raise SystemExit(f"gen_registry: unexpected character {ch!r} in {s!r}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def classes_of(value):
    return value if isinstance(value, list) else [value]


class Facts:
    def __init__(self, facts_dir):
        self.tasks_json = load(os.path.join(facts_dir, "optimum_tasks.json"))
        self.resolution = load(os.path.join(facts_dir, "optimum_task_resolution.json"))
        self.auto = {PRIMARY: load(os.path.join(facts_dir, "auto_mappings.json")),
                     SECONDARY: load(os.path.join(facts_dir, "v4.57.6", "auto_mappings.json"))}
        self.inputs = {PRIMARY: load(os.path.join(facts_dir, "main_input_names.json")),
                       SECONDARY: load(os.path.join(facts_dir, "v4.57.6", "main_input_names.json"))}
        for v in (PRIMARY, SECONDARY):
            got = self.auto[v]["_source"]["transformers_version"]
            if got != v:
                raise SystemExit(f"gen_registry: auto_mappings for {v} says transformers {got}")


def build(facts, project):
    tasks = sorted(project["tasks"])
    task_index = {t: i for i, t in enumerate(tasks)}
    if len(tasks) > 64:
        raise SystemExit("gen_registry: more than 64 tasks do not fit the served-task bitmask")
    loader_order = list(facts.tasks_json["transformers_tasks_to_model_loaders"].keys())
    for t in loader_order:
        if t not in task_index:
            raise SystemExit(f"gen_registry: optimum task {t!r} is not in the project's task list")
    table_tasks = [(row["table"], row["task"]) for row in project["transformers_task_tables"]]
    pretraining_table = project["pretraining_table"]["table"]

    classes = {}  # name -> dict
    model_types = {}  # key -> dict
    task_class = {}  # (key, task) -> class

    for version in (PRIMARY, SECONDARY):
        res = facts.resolution[version]
        auto = facts.auto[version]
        inputs = facts.inputs[version]["main_input_names"]
        new_classes = set()

        def cls(name):
            if name in classes:
                return classes[name] if name in new_classes else None
            classes[name] = {"main_input": "", "optimum_task": -1, "table_task": -1, "served": 0,
                             "pretraining": False, "model_type": "", "version": version}
            new_classes.add(name)
            return classes[name]

        # Known classes: every class with a main_input_name, and every class in a mapping table.
        for name in sorted(inputs):
            c = cls(name)
            if c is not None:
                v = inputs[name]
                c["main_input"] = "|".join(v) if isinstance(v, list) else v
        for name in sorted(auto["class_index"]):
            c = cls(name)
            if c is not None and not c["main_input"]:
                c["main_input"] = facts.inputs[version]["default_main_input_name"]
        for name, entries in sorted(auto["class_index"].items()):
            if name in new_classes and entries:
                classes[name]["model_type"] = entries[0][1]

        # class -> task in optimum's loader order; list-valued entries match every class in the list
        # (the one defect of optimum the spec fixes).
        mappings = res["tasks_to_model_mappings"]
        for task in loader_order:
            for mt, value in mappings.get(task, {}).items():
                for name in classes_of(value):
                    if name not in new_classes:
                        continue
                    c = classes[name]
                    c["served"] |= 1 << task_index[task]
                    if c["optimum_task"] < 0:
                        c["optimum_task"] = task_index[task]
                # (model_type, task) -> class: the first class of the merged loader tables.
                task_class.setdefault((key(mt), task), classes_of(value)[0])
        # Check the recomputation against optimum's own answer where optimum can answer.
        listed = {n for e in res["list_valued_entries_never_matched_by_class_name"] for n in e["classes"]}
        for name, task in res["class_to_task"].items():
            if name in new_classes and name not in listed:
                got = classes[name]["optimum_task"]
                if got < 0 or tasks[got] != task:
                    raise SystemExit(f"gen_registry: class_to_task mismatch for {name}: {task} vs {got}")

        for table, task in table_tasks:
            for mt, value in sorted(auto["mappings"].get(table, {}).items()):
                for name in classes_of(value):
                    c = classes.get(name)
                    if c is None:
                        c = cls(name)
                    if name in new_classes:
                        c["served"] |= 1 << task_index[task]
                        if c["table_task"] < 0:
                            c["table_task"] = task_index[task]
                task_class.setdefault((key(mt), task), classes_of(value)[0])
        for mt, value in auto["mappings"].get(pretraining_table, {}).items():
            for name in classes_of(value):
                if name in new_classes:
                    classes[name]["pretraining"] = True

        for mt, config_class in sorted(auto["config_mapping_names"].items()):
            row = model_types.setdefault(key(mt), {"name": mt, "config_class": config_class, "exportable": []})
            if not row["config_class"]:
                row["config_class"] = config_class

    for mt, task_list in facts.tasks_json["onnx_supported_tasks"].items():
        row = model_types.setdefault(key(mt), {"name": mt, "config_class": "", "exportable": []})
        row["exportable"] = list(task_list)

    synonyms = {}
    exceptions = {e["task"] for e in project["synonym_exceptions"]}
    for src, dst in facts.tasks_json["synonym_task_map"].items():
        if src not in exceptions:
            synonyms[src] = dst

    auto_class_task = {}
    for task, loaders in facts.tasks_json["transformers_tasks_to_model_loaders"].items():
        for loader in loaders:
            if loader != "AutoModel":
                auto_class_task.setdefault(loader, task)
    for cond in facts.tasks_json.get("transformers_tasks_to_model_loaders_conditional", []):
        for loader in cond["if_condition_true"] + cond["if_condition_false"]:
            if loader != "AutoModel":
                auto_class_task.setdefault(loader, cond["task"])

    libraries = {}
    other = facts.tasks_json["onnx_supported_tasks_other_libraries"]
    for lib in ("timm", "sentence_transformers"):
        seen = []
        for tl in other[lib].values():
            for t in tl:
                if t not in seen:
                    seen.append(t)
        libraries[lib.replace("_", "-")] = seen

    return {"tasks": tasks, "task_index": task_index, "classes": classes, "model_types": model_types,
            "task_class": task_class, "synonyms": synonyms, "auto_class_task": auto_class_task,
            "libraries": libraries}


def render(facts, project, data):
    ti = data["task_index"]
    lines = []
    w = lines.append
    w("// GENERATED by scripts/gen_registry.py from hf-facts and data/registry/project_tables.json.")
    w("// Do not edit: change the generator or the project tables and run it again.")
    w("// Sources:")
    sources = []
    for version in (PRIMARY, SECONDARY):
        src = facts.auto[version]["_source"]
        sources.append(f"transformers {version} {src['commit']}")
    o = facts.tasks_json["_source"]
    sources.append(f"optimum {o['optimum']['commit']}")
    sources.append(f"optimum-onnx {o['optimum_onnx']['commit']}")
    for s in sources:
        w(f"//   {s}")
    w("#pragma once")
    w("")
    w("namespace modelkit::registry::data {")
    w("")
    w("inline constexpr std::string_view kSources[] = {")
    for s in sources:
        w(f"    {cpp_str(s)},")
    w("};")
    w("")
    w("// The task vocabulary; a task is its index here (the served-task masks use these bits).")
    w("inline constexpr std::string_view kTasks[] = {")
    for t in data["tasks"]:
        w(f"    {cpp_str(t)},")
    w("};")
    w("")
    w("inline constexpr SynonymRow kSynonyms[] = {")
    for src in sorted(data["synonyms"]):
        w(f"    {{{cpp_str(src)}, {cpp_str(data['synonyms'][src])}}},")
    w("};")
    w("")
    w("inline constexpr OptimumTaskRow kOptimumTaskOverrides[] = {")
    for row in sorted(project["optimum_task_overrides"], key=lambda r: r["task"]):
        w(f"    {{{cpp_str(row['task'])}, {cpp_str(row['optimum_task'])}}},")
    w("};")
    w("")
    w("// name, main_input_name ('|' between names when several), optimum task, transformers-table task,")
    w("// served-task mask, in the pre-training table, model_type of its first table entry.")
    w("inline constexpr ClassRow kClasses[] = {")
    for name in sorted(data["classes"]):
        c = data["classes"][name]
        w(f"    {{{cpp_str(name)}, {cpp_str(c['main_input'])}, {c['optimum_task']}, {c['table_task']}, "
          f"0x{c['served']:x}ull, {'true' if c['pretraining'] else 'false'}, {cpp_str(c['model_type'])}}},")
    w("};")
    w("")
    w("// model_type key, model_type as transformers spells it, config class, ONNX-exportable tasks")
    w("// (registration order, '-with-past' variants kept, comma-separated).")
    w("inline constexpr ModelTypeRow kModelTypes[] = {")
    for k in sorted(data["model_types"]):
        m = data["model_types"][k]
        w(f"    {{{cpp_str(k)}, {cpp_str(m['name'])}, {cpp_str(m['config_class'])}, "
          f"{cpp_str(','.join(m['exportable']))}}},")
    w("};")
    w("")
    w("// (model_type key, task) -> class from the auto-mapping tables (optimum's loaders merged in order).")
    w("inline constexpr TaskClassRow kTaskClasses[] = {")
    for (k, task) in sorted(data["task_class"], key=lambda kt: (kt[0], ti[kt[1]])):
        w(f"    {{{cpp_str(k)}, {ti[task]}, {cpp_str(data['task_class'][(k, task)])}}},")
    w("};")
    w("")
    w("// Remote code: Auto class named in auto_map -> first task in optimum's loader order listing it.")
    w("// The rank is the task's position in that loader order (lower wins when several entries match).")
    w("inline constexpr AutoClassRow kAutoClasses[] = {")
    order = list(facts.tasks_json["transformers_tasks_to_model_loaders"].keys())
    for name in sorted(data["auto_class_task"]):
        task = data["auto_class_task"][name]
        w(f"    {{{cpp_str(name)}, {ti[task]}, {order.index(task)}}},")
    w("};")
    w("")
    w("// Project-owned tables (data/registry/project_tables.json); reasons kept for display.")
    w("inline constexpr ModelIdDefaultRow kModelIdDefaults[] = {")
    for row in sorted(project["model_id_defaults"], key=lambda r: r["model_id"].strip().lower()):
        w(f"    {{{cpp_str(row['model_id'].strip().lower())}, {ti[row['task']]}, {cpp_str(row['reason'])}}},")
    w("};")
    w("inline constexpr SentinelRow kSentinels[] = {")
    for row in sorted(project["sentinel_defaults"], key=lambda r: key(r["model_type"])):
        w(f"    {{{cpp_str(key(row['model_type']))}, {ti[row['task']]}, {cpp_str(row['class'])}, {cpp_str(row['reason'])}}},")
    w("};")
    w("inline constexpr ClassChoiceRow kClassChoices[] = {")
    for row in sorted(project["class_choices"], key=lambda r: (key(r["model_type"]), ti[r["task"]])):
        w(f"    {{{cpp_str(key(row['model_type']))}, {ti[row['task']]}, {cpp_str(row['class'])}, {cpp_str(row['reason'])}}},")
    w("};")
    w("inline constexpr LibraryRow kLibraries[] = {")
    reasons = {r["library"]: r for r in project["wrapped_libraries"]}
    for lib in sorted(data["libraries"]):
        r = reasons[lib]
        w(f"    {{{cpp_str(lib)}, {ti[r['task']]}, {cpp_str(','.join(data['libraries'][lib]))}, {cpp_str(r['reason'])}}},")
    w("};")
    w("inline constexpr ModalityRow kModalities[] = {")
    for name in sorted(project["modality_by_main_input"]):
        w(f"    {{{cpp_str(name)}, {cpp_str(project['modality_by_main_input'][name])}}},")
    w("};")
    w("")
    w("}  // namespace modelkit::registry::data")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--facts", default=os.path.join(os.path.dirname(ROOT), "shared", "hf-facts"))
    ap.add_argument("--project", default=os.path.join(ROOT, "data", "registry", "project_tables.json"))
    ap.add_argument("--out", default=os.path.join(ROOT, "data", "registry", "registry_tables.inc"))
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    if not os.path.isdir(args.facts):
        print(f"gen_registry: no facts folder '{args.facts}'", file=sys.stderr)
        return 2
    facts = Facts(args.facts)
    project = load(args.project)
    text = render(facts, project, build(facts, project))
    if args.check:
        with open(args.out, encoding="utf-8") as f:
            if f.read() != text:
                print(f"gen_registry: '{args.out}' is stale: run scripts/gen_registry.py", file=sys.stderr)
                return 1
        print("gen_registry: up to date")
        return 0
    tmp = args.out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, args.out)
    print(f"gen_registry: wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
