"""Just enough CloudFormation to check and render the templates in
scripts/cloudformation/ offline: a YAML loader that understands the short
tags (!Ref, !Sub, !GetAtt, ...), the references a template makes, and an
evaluator of the intrinsic functions for given parameter values."""

import base64
import re

import yaml

PSEUDO = {"AWS::AccountId", "AWS::NotificationARNs", "AWS::NoValue", "AWS::Partition", "AWS::Region",
          "AWS::StackId", "AWS::StackName", "AWS::URLSuffix"}

NO_VALUE = object()


class Loader(yaml.SafeLoader):
    pass


def _tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "Condition":
        return {"Condition": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {"Fn::" + suffix: value}


Loader.add_multi_constructor("!", _tag)


def load(path):
    with open(path) as f:
        return yaml.load(f, Loader=Loader)  # noqa: S506 (a SafeLoader subclass)


SUB_VAR = re.compile(r"\$\{([^}!][^}]*)\}")


def sub_variables(text):
    """The ${...} names in a Fn::Sub string (${!Literal} is not one)."""
    return SUB_VAR.findall(text)


def walk(node, path=()):
    """Yields (path, node) for every dict and list inside node."""
    yield path, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from walk(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, path + (i,))


def references(template):
    """Every (kind, name, path) the template refers to: Ref, GetAtt, Sub
    variables (with the names defined by a Sub's own map left out),
    conditions used by Fn::If / Condition:, and imports."""
    refs = []
    for path, node in walk(template):
        if not isinstance(node, dict):
            continue
        for key, value in node.items():
            if key == "Ref":
                refs.append(("Ref", value, path))
            elif key == "Fn::GetAtt":
                refs.append(("GetAtt", value[0], path))
            elif key == "Fn::Sub":
                text, local = (value, {}) if isinstance(value, str) else (value[0], value[1])
                for var in sub_variables(text):
                    name = var.split(".", 1)[0]
                    if var not in local and name not in local:
                        refs.append(("Sub", var, path))
            elif key == "Fn::If":
                refs.append(("Condition", value[0], path))
            elif key == "Condition" and isinstance(value, str) and len(path) >= 2 and path[0] in (
                    "Resources", "Outputs"):
                refs.append(("Condition", value, path))
    return refs


class Context:
    """Values for evaluating a template: parameters (defaults filled in),
    what Ref and GetAtt of each resource give, imports, pseudo parameters."""

    def __init__(self, template, parameters=None, resources=None, attributes=None, imports=None, pseudo=None):
        self.template = template
        self.parameters = {}
        for name, spec in (template.get("Parameters") or {}).items():
            if "Default" in spec:
                self.parameters[name] = str(spec["Default"])
        self.parameters.update({k: str(v) for k, v in (parameters or {}).items()})
        self.resources = dict(resources or {})
        self.attributes = dict(attributes or {})
        self.imports = dict(imports or {})
        self.pseudo = {"AWS::AccountId": "123456789012", "AWS::Partition": "aws", "AWS::Region": "us-east-1",
                       "AWS::StackName": "kafka-node-1", "AWS::URLSuffix": "amazonaws.com",
                       "AWS::StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/kafka-node-1/1"}
        self.pseudo.update(pseudo or {})
        self.conditions = {}
        for name in (template.get("Conditions") or {}):
            self.condition(name)

    def condition(self, name):
        if name not in self.conditions:
            self.conditions[name] = bool(self.eval(self.template["Conditions"][name]))
        return self.conditions[name]

    def ref(self, name):
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.resources:
            return self.resources[name]
        raise KeyError(f"no value for Ref {name}")

    def getatt(self, name, attribute):
        key = f"{name}.{attribute}"
        if key not in self.attributes:
            raise KeyError(f"no value for GetAtt {key}")
        return self.attributes[key]

    def eval(self, node):
        if isinstance(node, list):
            return [v for v in (self.eval(x) for x in node) if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, value), = node.items()
            if key == "Ref":
                return self.ref(value)
            if key == "Condition":
                return self.condition(value)
            if key == "Fn::GetAtt":
                return self.getatt(*value)
            if key == "Fn::ImportValue":
                name = self.eval(value)
                if name not in self.imports:
                    raise KeyError(f"no value for ImportValue {name}")
                return self.imports[name]
            if key == "Fn::Sub":
                return self.sub(value)
            if key == "Fn::If":
                return self.eval(value[1] if self.condition(value[0]) else value[2])
            if key == "Fn::Equals":
                a, b = (self.eval(x) for x in value)
                return str(a) == str(b)
            if key == "Fn::Not":
                return not self.eval(value[0])
            if key == "Fn::And":
                return all(self.eval(x) for x in value)
            if key == "Fn::Or":
                return any(self.eval(x) for x in value)
            if key == "Fn::Join":
                return value[0].join(str(x) for x in self.eval(value[1]))
            if key == "Fn::Select":
                return self.eval(value[1])[int(self.eval(value[0]))]
            if key == "Fn::Split":
                return self.eval(value[1]).split(value[0])
            if key == "Fn::Base64":
                return base64.b64encode(self.eval(value).encode()).decode()
        out = {}
        for k, v in node.items():
            v = self.eval(v)
            if v is not NO_VALUE:
                out[k] = v
        return out

    def sub(self, value):
        text, local = (value, {}) if isinstance(value, str) else (value[0], value[1])
        local = {k: self.eval(v) for k, v in local.items()}

        def one(m):
            var = m.group(1)
            if var in local:
                return str(local[var])
            if "." in var and var.split(".", 1)[0] in self.resources:
                return str(self.getatt(*var.split(".", 1)))
            return str(self.ref(var))

        return SUB_VAR.sub(one, text).replace("${!", "${")
