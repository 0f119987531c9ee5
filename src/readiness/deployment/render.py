"""`readiness deployments`: the deployment map as text for people."""

from __future__ import annotations

from .model import DeploymentMap


def text(dmap: DeploymentMap) -> str:
    lines = [dmap.summary, ""]
    for d in dmap.deployments:
        mark = "PRODUCTION" if d.production else str(d.environment)
        lines.append(f"{d.name}  [{mark}]")
        lines.append(f"  files: {', '.join(d.files)}")
        for why in d.reasons:
            lines.append(f"  why:   {why}")
        rendering = dmap.helm.get(d.name)
        if rendering is not None:
            lines.append(f"  helm:  {_rendering(rendering)}")
        for s in d.started_by[:5]:
            lines.append(f"  started by: {s.describe()}")
        for u in d.units:
            extra = [
                f"image {u.image}" if u.image else "",
                f"build {u.build}" if u.build else "",
                f"ports {', '.join(u.ports)}" if u.ports else "",
                "entry point" if u.entry_point else "",
            ]
            lines.append(f"  unit {u.name}: {'; '.join(e for e in extra if e) or 'no image or build'}")
        if d.uses:
            shown = ", ".join(d.uses[:12]) + (f" and {len(d.uses) - 12} more" if len(d.uses) > 12 else "")
            lines.append(f"  uses: {shown}")
        lines.append("")
    if dmap.orphans:
        lines.append("orphans (deployed by nothing; reported, never deciding a production item):")
        lines += [f"  {p}: {why}" for p, why in sorted(dmap.orphans.items())]
    return "\n".join(lines).rstrip() + "\n"


def _rendering(r) -> str:
    if r.status != "rendered":
        return f"not rendered: {r.reason}"
    templates = len({t for t, _ in r.documents})
    out = f"rendered {len(r.documents)} object(s) from {templates} template(s) ({r.described}, helm {r.helm_version})"
    out += "".join(f"; dependency {n} left out: {why}" for n, why in r.missing)
    return out + "".join(f"; {n}" for n in r.notes[:3])
