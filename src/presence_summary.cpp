// Presence summary: gathering names, and the cut that makes the line fit.
#include "presence_summary.h"

#include <algorithm>
#include <cassert>

// A name is listed only while every one before it is: the list stays a prefix.
void PresenceSummary::Names::add(std::string_view name, size_t max_line)
{
    count++;
    size_t width = list.size() + (list.empty() ? 0 : 2) + name.size();
    if (listed + 1 == count && width < max_line) {
        list.append(list.empty() ? "" : ", ").append(name);
        listed++;
    }
}

std::string PresenceSummary::Names::fitted(size_t width) const
{
    if (whole() <= width)
        return list;
    // Names are never empty and hold no ", " (addresses and chosen names alike), so the
    // list splits back into them there.
    size_t shown = 0, cut = 0;
    for (size_t next = 0; shown < listed; shown++) {
        next = list.find(", ", cut + (shown ? 2 : 0));
        if (next == std::string::npos)
            next = list.size();
        std::string more = " (+" + std::to_string(count - shown - 1) + " more)";
        if (next + more.size() > width)
            break;
        cut = next;
    }
    std::string rest = "(+" + std::to_string(count - shown) + " more)";
    return shown == 0 ? rest : list.substr(0, cut) + " " + rest;
}

std::string PresenceSummary::take()
{
    assert(max_line_ >= min_line);
    std::string arrived = arrivals_.count ? "+" + std::to_string(arrivals_.count) + " arrived: " : "";
    std::string left = leaves_.count ? (arrivals_.count ? "; -" : "-") + std::to_string(leaves_.count) + " left: " : "";
    size_t room = max_line_ - 1 - arrived.size() - left.size();
    // Each part gets what it needs if the other leaves it that much, else half.
    size_t for_arrivals = room;
    if (arrivals_.count && leaves_.count) {
        size_t half = room / 2;
        if (arrivals_.whole() <= half)
            for_arrivals = arrivals_.whole();
        else if (leaves_.whole() <= half)
            for_arrivals = room - leaves_.whole();
        else
            for_arrivals = room - half;
    }
    std::string line = arrived;
    if (arrivals_.count)
        line += arrivals_.fitted(for_arrivals);
    size_t for_leaves = room - (line.size() - arrived.size());
    line += left;
    if (leaves_.count)
        line += leaves_.fitted(for_leaves);
    line += "\n";
    assert(line.size() <= max_line_);
    arrivals_ = {};
    leaves_ = {};
    return line;
}
